package kubelet_test

import (
	"strings"
	"testing"

	corev1 "keel.dev/keel/pkg/apis/core/v1"
	metav1 "keel.dev/keel/pkg/apis/meta/v1"
	"keel.dev/keel/pkg/client"
	"keel.dev/keel/pkg/kubelet"
)

// TestMissingConfigMapOrSecret: a container whose env or volume names a
// ConfigMap or Secret that does not exist waits with
// CreateContainerConfigError naming it (and a Warning Failed event), and
// starts once the object appears.
func TestMissingConfigMapOrSecret(t *testing.T) {
	e := newEnv(t)
	rec := &events{}
	e.startKubelet(t, func(c *kubelet.Config) { c.Events = rec })

	env := testPod("env", "Always", "app")
	env.Spec.Containers[0].Env = []*corev1.EnvVar{{Name: "MODE", ValueFrom: &corev1.EnvVarSource{
		ConfigMapKeyRef: &corev1.ConfigMapKeySelector{Name: "settings", Key: "mode"}}}}
	envFrom := testPod("envfrom", "Always", "app")
	envFrom.Spec.Containers[0].EnvFrom = []*corev1.EnvFromSource{{SecretRef: &corev1.SecretEnvSource{Name: "creds"}}}
	vol := testPod("vol", "Always", "app")
	vol.Spec.Volumes = []*corev1.Volume{{Name: "files", ConfigMap: &corev1.ConfigMapVolumeSource{Name: "files"}}}
	vol.Spec.Containers[0].VolumeMounts = []*corev1.VolumeMount{{Name: "files", MountPath: "/files"}}
	e.create(t, env)
	e.create(t, envFrom)
	e.create(t, vol)

	for name, want := range map[string]string{"env": `configmap "settings" not found`, "envfrom": `secret "creds" not found`,
		"vol": `configmap "files" not found`} {
		e.waitPod(t, name, "waiting CreateContainerConfigError", func(p *corev1.Pod) bool {
			cs := p.GetStatus().GetContainerStatuses()
			if len(cs) != 1 {
				return false
			}
			w := cs[0].GetState().GetWaiting()
			return w.GetReason() == "CreateContainerConfigError" && strings.Contains(w.GetMessage(), want)
		})
		if !rec.has("Warning Failed: ", want) {
			t.Errorf("no Warning Failed event naming %s: %v", want, rec.all)
		}
	}

	if _, err := e.client.ConfigMaps("default").Create(ctx(t), &corev1.ConfigMap{Metadata: &metav1.ObjectMeta{Name: "settings"},
		Data: map[string]string{"mode": "fast"}}, client.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	if _, err := e.client.ConfigMaps("default").Create(ctx(t), &corev1.ConfigMap{Metadata: &metav1.ObjectMeta{Name: "files"},
		Data: map[string]string{"a.conf": "x"}}, client.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	if _, err := e.client.Secrets("default").Create(ctx(t), &corev1.Secret{Metadata: &metav1.ObjectMeta{Name: "creds"},
		Data: map[string][]byte{"token": []byte("s3cret")}}, client.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	e.waitPod(t, "env", "Running once the ConfigMap exists", phase("Running"))
	e.waitPod(t, "envfrom", "Running once the Secret exists", phase("Running"))
	e.waitPod(t, "vol", "Running once the ConfigMap exists", phase("Running"))
}
