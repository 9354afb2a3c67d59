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
// controller, and the apiserver's reconciler of the kubernetes Service.
const (
	EndpointSliceControllerName = "endpointslice-controller.k8s.io"
	EndpointSliceAPIServerName  = "endpointslice-apiserver.k8s.io"
)

// MaxEndpointsPerSliceLimit is the most endpoints one EndpointSlice may
// hold (validation); the controller writes fewer (--max-endpoints-per-slice).
const MaxEndpointsPerSliceLimit = 1000
