package audit

import (
	"encoding/json"
	"net/http"
	"strings"
	"time"

	"keel.dev/keel/pkg/apierrors"
	"keel.dev/keel/pkg/auth"
	"keel.dev/keel/pkg/scheme"
)

// Event is audit.k8s.io/v1 Event: one line of the audit log, for one
// stage of one request.
type Event struct {
	Kind       string `json:"kind"`
	APIVersion string `json:"apiVersion"`
	Level      Level  `json:"level"`
	// AuditID is a UUID shared by every stage of one request.
	AuditID string `json:"auditID"`
	Stage   Stage  `json:"stage"`
	// RequestURI is the path of an HTTPS request, and for a gRPC call
	// the Kubernetes REST path of the same operation
	// (/api/v1/namespaces/NS/pods/NAME, ?watch=true for a watch).
	RequestURI string `json:"requestURI"`
	Verb       string `json:"verb"`
	// User is who sent the request; ImpersonatedUser whom they acted as.
	User             UserInfo         `json:"user"`
	ImpersonatedUser *UserInfo        `json:"impersonatedUser,omitempty"`
	SourceIPs        []string         `json:"sourceIPs,omitempty"`
	UserAgent        string           `json:"userAgent,omitempty"`
	ObjectRef        *ObjectReference `json:"objectRef,omitempty"`
	// ResponseStatus is set from ResponseStarted on.
	ResponseStatus *ResponseStatus `json:"responseStatus,omitempty"`
	// RequestObject (level Request and up) and ResponseObject (level
	// RequestResponse) are objects in Kubernetes JSON form.
	RequestObject            any               `json:"requestObject,omitempty"`
	ResponseObject           any               `json:"responseObject,omitempty"`
	RequestReceivedTimestamp MicroTime         `json:"requestReceivedTimestamp"`
	StageTimestamp           MicroTime         `json:"stageTimestamp"`
	Annotations              map[string]string `json:"annotations,omitempty"`
}

// UserInfo is authentication.k8s.io/v1 UserInfo.
type UserInfo struct {
	Username string              `json:"username,omitempty"`
	UID      string              `json:"uid,omitempty"`
	Groups   []string            `json:"groups,omitempty"`
	Extra    map[string][]string `json:"extra,omitempty"`
}

func userInfo(u auth.User) UserInfo {
	return UserInfo{Username: u.Name, UID: u.UID, Groups: u.Groups, Extra: u.Extra}
}

// ObjectReference names the object a request is about.
type ObjectReference struct {
	Resource    string `json:"resource,omitempty"`
	Namespace   string `json:"namespace,omitempty"`
	Name        string `json:"name,omitempty"`
	APIGroup    string `json:"apiGroup,omitempty"`
	APIVersion  string `json:"apiVersion,omitempty"`
	Subresource string `json:"subresource,omitempty"`
}

// ResponseStatus is the meta/v1 Status of the answer: its HTTP code
// (a gRPC code's HTTP equivalent), and for a failure its reason and
// message.
type ResponseStatus struct {
	Metadata struct{} `json:"metadata"`
	Status   string   `json:"status,omitempty"`
	Message  string   `json:"message,omitempty"`
	Reason   string   `json:"reason,omitempty"`
	Code     int      `json:"code"`
}

// MicroTime is a timestamp in Kubernetes' MicroTime form: RFC 3339 with
// microseconds, in UTC.
type MicroTime time.Time

// MarshalJSON implements json.Marshaler.
func (t MicroTime) MarshalJSON() ([]byte, error) {
	b := make([]byte, 0, len(microTimeLayout)+2)
	b = append(b, '"')
	b = time.Time(t).UTC().AppendFormat(b, microTimeLayout)
	return append(b, '"'), nil
}

const microTimeLayout = "2006-01-02T15:04:05.000000Z07:00"

// UnmarshalJSON implements json.Unmarshaler.
func (t *MicroTime) UnmarshalJSON(b []byte) error {
	var s string
	if err := json.Unmarshal(b, &s); err != nil {
		return err
	}
	v, err := time.Parse(time.RFC3339Nano, s)
	*t = MicroTime(v)
	return err
}

// Annotation keys set on events, as Kubernetes' authorizer sets them.
const (
	AnnotationDecision = "authorization.k8s.io/decision"
	AnnotationReason   = "authorization.k8s.io/reason"
)

// responseStatus is the status of an answer with err (nil: success).
func responseStatus(err error) *ResponseStatus {
	if err == nil {
		return &ResponseStatus{Code: http.StatusOK}
	}
	e, ok := apierrors.FromStatus(apierrors.ToStatus(err)).(*apierrors.Error)
	if !ok {
		e = apierrors.Internal("%v", err)
	}
	return &ResponseStatus{Status: "Failure", Reason: string(e.Reason), Message: e.Message, Code: apierrors.HTTPStatus(e)}
}

// objectRef and requestURI describe a resource request's object: its
// resource, subresource, API group and version (from the scheme),
// namespace and name.
func objectRef(a auth.Attributes) *ObjectReference {
	if !a.IsResourceRequest() || a.Resource == "" {
		return nil
	}
	res, sub, _ := strings.Cut(a.Resource, "/")
	ref := &ObjectReference{Resource: res, Subresource: sub, Namespace: a.Namespace, Name: a.Name, APIGroup: a.APIGroup}
	if k, ok := scheme.ByResource(res); ok {
		ref.APIGroup, ref.APIVersion = k.Group, k.Version
	}
	return ref
}

// requestURI is the Kubernetes REST path of a resource request described
// by ref and verb, or a's path for a non-resource request.
func requestURI(a auth.Attributes, ref *ObjectReference) string {
	if ref == nil {
		return a.Path
	}
	var b strings.Builder
	version := ref.APIVersion
	if version == "" {
		version = "v1"
	}
	if ref.APIGroup == "" {
		b.WriteString("/api/" + version)
	} else {
		b.WriteString("/apis/" + ref.APIGroup + "/" + version)
	}
	if ref.Namespace != "" {
		b.WriteString("/namespaces/" + ref.Namespace)
	}
	b.WriteString("/" + ref.Resource)
	if ref.Name != "" {
		b.WriteString("/" + ref.Name)
	}
	if ref.Subresource != "" {
		b.WriteString("/" + ref.Subresource)
	}
	if a.Verb == "watch" {
		b.WriteString("?watch=true")
	}
	return b.String()
}
