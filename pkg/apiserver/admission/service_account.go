package admission

import (
	"context"
	"fmt"
	"strings"

	"google.golang.org/protobuf/proto"

	"keel.dev/keel/pkg/api"
	"keel.dev/keel/pkg/apierrors"
	corev1 "keel.dev/keel/pkg/apis/core/v1"
)

// ServiceAccount admits new pods as Kubernetes' plugin of that name does:
//
//   - a pod that names no service account runs as "default"
//     (spec.serviceAccountName, and its deprecated alias
//     spec.serviceAccount);
//   - the service account must exist, else the pod is refused (Forbidden:
//     "error looking up service account NS/NAME: serviceaccount "NAME" not
//     found"); its namespace's service account controller creates
//     "default", so a pod created at once in a new namespace may have to be
//     retried;
//   - when MountToken is set (the apiserver can issue tokens), unless
//     automountServiceAccountToken is false (the pod's setting wins over
//     the service account's), a projected volume kube-api-access-XXXXX
//     (a token of the service account bound to the pod, the cluster CA
//     from the ConfigMap kube-root-ca.crt and the pod's namespace) is added
//     and mounted read-only at api.ServiceAccountTokenMountPath in every
//     container and init container that mounts nothing there.
//
// Mirror pods (the kubelet's static pods) are left alone besides the name:
// their spec is the kubelet's file, and the kubelet runs them without
// asking the API for anything.
type ServiceAccount struct {
	// MountToken adds the token volume; set when the apiserver signs
	// service account tokens.
	MountToken bool
}

var _ Mutator = ServiceAccount{}

// Name implements Mutator.
func (ServiceAccount) Name() string { return "ServiceAccount" }

// TokenExpirationSeconds is the lifetime the token volume asks for:
// Kubernetes' hour and 7 seconds (the 7 tell its tokens apart).
const TokenExpirationSeconds = 3607

// Admit implements Mutator.
func (p ServiceAccount) Admit(ctx context.Context, a *Attributes, o Objects) error {
	pod, ok := a.Object.(*corev1.Pod)
	if a.Operation != Create || a.Subresource != "" || !ok {
		return nil
	}
	if pod.Spec == nil {
		pod.Spec = &corev1.PodSpec{}
	}
	if pod.Spec.ServiceAccountName == "" {
		pod.Spec.ServiceAccountName = pod.Spec.ServiceAccount
	}
	if pod.Spec.ServiceAccountName == "" {
		pod.Spec.ServiceAccountName = api.DefaultServiceAccountName
	}
	if pod.Spec.ServiceAccount == "" {
		pod.Spec.ServiceAccount = pod.Spec.ServiceAccountName
	}
	if _, mirror := pod.GetMetadata().GetAnnotations()[MirrorPodAnnotation]; mirror {
		return nil
	}
	name := pod.Spec.ServiceAccountName
	m, err := o.Get(ctx, "serviceaccounts", a.Namespace, name)
	if apierrors.IsNotFound(err) {
		err = fmt.Errorf("serviceaccount %q not found", name)
	}
	if err != nil {
		return apierrors.Forbidden("pods", a.Name, fmt.Sprintf("error looking up service account %s/%s: %v", a.Namespace, name, err))
	}
	sa := m.(*corev1.ServiceAccount)
	if p.MountToken && automount(pod.Spec, sa) {
		mountToken(pod.Spec)
	}
	return nil
}

// automount tells whether the pod gets a token: the pod's
// automountServiceAccountToken, else the service account's, else yes.
func automount(spec *corev1.PodSpec, sa *corev1.ServiceAccount) bool {
	if spec.AutomountServiceAccountToken != nil {
		return *spec.AutomountServiceAccountToken
	}
	if sa.AutomountServiceAccountToken != nil {
		return *sa.AutomountServiceAccountToken
	}
	return true
}

// mountToken mounts the token volume in every container that has nothing
// at api.ServiceAccountTokenMountPath, adding the volume if one needs it
// and the pod has no kube-api-access-* volume yet.
func mountToken(spec *corev1.PodSpec) {
	volName := ""
	for _, v := range spec.GetVolumes() {
		if strings.HasPrefix(v.GetName(), api.ServiceAccountVolumePrefix) {
			volName = v.GetName()
			break
		}
	}
	hasVolume := volName != ""
	if !hasVolume {
		volName = api.ServiceAccountVolumePrefix + api.RandomSuffix()
	}
	needed := false
	for _, cs := range [][]*corev1.Container{spec.InitContainers, spec.Containers} {
		for _, c := range cs {
			if mountsTokenPath(c) {
				continue
			}
			c.VolumeMounts = append(c.VolumeMounts, &corev1.VolumeMount{Name: volName, ReadOnly: true, MountPath: api.ServiceAccountTokenMountPath})
			needed = true
		}
	}
	if needed && !hasVolume {
		spec.Volumes = append(spec.Volumes, tokenVolume(volName))
	}
}

func mountsTokenPath(c *corev1.Container) bool {
	for _, m := range c.GetVolumeMounts() {
		if m.GetMountPath() == api.ServiceAccountTokenMountPath {
			return true
		}
	}
	return false
}

// tokenVolume is Kubernetes' kube-api-access volume: files token, ca.crt
// and namespace, mode 0644.
func tokenVolume(name string) *corev1.Volume {
	return &corev1.Volume{Name: name, Projected: &corev1.ProjectedVolumeSource{
		DefaultMode: proto.Int32(0o644),
		Sources: []*corev1.VolumeProjection{
			{ServiceAccountToken: &corev1.ServiceAccountTokenProjection{ExpirationSeconds: proto.Int64(TokenExpirationSeconds), Path: "token"}},
			{ConfigMap: &corev1.ConfigMapProjection{Name: api.RootCAConfigMapName, Items: []*corev1.KeyToPath{{Key: "ca.crt", Path: "ca.crt"}}}},
			{DownwardApi: &corev1.DownwardAPIProjection{Items: []*corev1.DownwardAPIVolumeFile{
				{Path: "namespace", FieldRef: &corev1.ObjectFieldSelector{ApiVersion: "v1", FieldPath: "metadata.namespace"}}}}},
		},
	}}
}
