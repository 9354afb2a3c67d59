package api

// EndpointSlice address types (addressType).
const (
	AddressTypeIPv4 = "IPv4"
	AddressTypeIPv6 = "IPv6"
	AddressTypeFQDN = "FQDN"
)

// EndpointSlice labels: the Service a slice belongs to, and who manages it.
const (
	LabelServiceName = "kubernetes.io/service-name"
	LabelManagedBy   = "endpointslice.kubernetes.io/managed-by"
)

// EndpointSlice managers (the LabelManagedBy value): the EndpointSlice
// controller, for the pods of a Service's selector, and its mirroring of
// the Endpoints of a Service without a selector.
const (
	EndpointSliceControllerName = "endpointslice-controller.k8s.io"
	EndpointSliceMirroringName  = "endpointslicemirroring-controller.k8s.io"
)

// LabelSkipMirror "true" on Endpoints keeps them from being mirrored into
// EndpointSlices (the kubernetes Service's, whose slice the apiservers
// write).
const LabelSkipMirror = "endpointslice.kubernetes.io/skip-mirror"

// MaxEndpointsPerSliceLimit is the most endpoints one EndpointSlice may
// hold (validation); the controller writes fewer (--max-endpoints-per-slice).
const MaxEndpointsPerSliceLimit = 1000
