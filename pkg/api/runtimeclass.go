package api

// GroupNode is the API group of RuntimeClass.
const GroupNode = "node.k8s.io"
