package openapi

//go:generate go run keel.dev/keel/hack/openapi-k8stags -o zz_generated.k8stags.go

// k8sField is what a Kubernetes Go type declares about one of its fields
// beyond its type (the generated k8sFields table).
type k8sField struct {
	Required      bool
	PatchStrategy string
	PatchMergeKey string
	ListType      string
	ListMapKeys   []string
	MapType       string
	// Default is the +default value, as JSON ("\"TCP\"").
	Default string
}
