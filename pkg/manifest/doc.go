// Package manifest converts between Kubernetes-form manifests (YAML or JSON
// with apiVersion, kind and camelCase fields) and Keel's proto messages.
//
// The conversion is driven by protoreflect descriptors: a field's manifest
// name is its descriptor's JSONName (json_name where Kubernetes spells a
// field differently). Scalars are typed strictly — a string field given a
// number, an int32 out of range or a float for an integer is an error — and
// unknown fields are errors naming their full path; nothing unknown is kept.
// null leaves a field unset; proto3 optional fields keep presence, so an
// explicit 0 or false survives. A few message types have a scalar spelling:
//
//	keel.meta.v1.Quantity       "250m", "64Mi" or a number (kept as written; the apiserver validates it)
//	keel.meta.v1.IntOrString    an integer (type 0) or a string (type 1): 80, "25%", "http"
//	google.protobuf.Timestamp   RFC 3339; rendered in UTC with seconds precision, or with
//	                            microseconds for Kubernetes' MicroTime fields (Lease renewTime…)
//	google.protobuf.Duration    a Go duration string ("1m30s")
//	keel.meta.v1.RawExtension   any embedded JSON value, kept as its JSON
//
// A message's map<string, keel.meta.v1.RawExtension> field named inline
// (a custom resource's top-level fields beyond apiVersion, kind, metadata,
// spec and status) holds the members of its object that no other field
// names: they decode into it, and its entries encode as members of the
// object itself.
//
// bytes are base64 (standard encoding), enums (none in Keel's types so far)
// their value names, int64 and uint64 plain JSON numbers decoded exactly.
//
// For every field, Decode(MarshalYAML(m)) equals m, except that timestamps
// lose their fractional seconds (MicroTime fields keep microseconds). All
// functions are safe for concurrent use.
package manifest
