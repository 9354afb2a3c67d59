package validation_test

import (
	"testing"

	"google.golang.org/protobuf/proto"

	"keel.dev/keel/pkg/api"
	appsv1 "keel.dev/keel/pkg/apis/apps/v1"
	corev1 "keel.dev/keel/pkg/apis/core/v1"
	"keel.dev/keel/pkg/manifest"
	"keel.dev/keel/pkg/registry"
)

// webStatefulSet is the StatefulSet of Kubernetes' StatefulSet concept page,
// unchanged.
const webStatefulSet = `
apiVersion: apps/v1
kind: StatefulSet
metadata:
  name: web
spec:
  selector:
    matchLabels:
      app: nginx # has to match .spec.template.metadata.labels
  serviceName: "nginx"
  replicas: 3 # by default is 1
  minReadySeconds: 10 # by default is 0
  template:
    metadata:
      labels:
        app: nginx # has to match .spec.selector.matchLabels
    spec:
      terminationGracePeriodSeconds: 10
      containers:
      - name: nginx
        image: registry.k8s.io/nginx-slim:0.24
        ports:
        - containerPort: 80
          name: web
        volumeMounts:
        - name: www
          mountPath: /usr/share/nginx/html
  volumeClaimTemplates:
  - metadata:
      name: www
    spec:
      accessModes: [ "ReadWriteOnce" ]
      storageClassName: "my-storage-class"
      resources:
        requests:
          storage: 1Gi
`

// webSTS decodes webStatefulSet and applies the kind's defaults.
func webSTS(t *testing.T) *appsv1.StatefulSet {
	t.Helper()
	objs, err := manifest.Decode("web.yaml", []byte(webStatefulSet))
	if err != nil {
		t.Fatal(err)
	}
	ss := objs[0].Message.(*appsv1.StatefulSet)
	ss.Metadata.Namespace = "default"
	ss.Metadata.ResourceVersion = "1"
	registry.Default(ss)
	return ss
}

func TestStatefulSetValidation(t *testing.T) {
	checkPaths(t, "docs example", registry.ValidateCreate(webSTS(t)), nil)
	for _, tc := range []struct {
		name   string
		mutate func(*appsv1.StatefulSet)
		want   []string
	}{
		{"selector not matching template", func(s *appsv1.StatefulSet) { s.Spec.Selector.MatchLabels["app"] = "db" },
			[]string{"spec.template.metadata.labels"}},
		{"no selector", func(s *appsv1.StatefulSet) { s.Spec.Selector = nil }, []string{"spec.selector"}},
		{"negative replicas", func(s *appsv1.StatefulSet) { s.Spec.Replicas = proto.Int32(-1) }, []string{"spec.replicas"}},
		{"bad serviceName", func(s *appsv1.StatefulSet) { s.Spec.ServiceName = "Nginx_1" }, []string{"spec.serviceName"}},
		{"bad podManagementPolicy", func(s *appsv1.StatefulSet) { s.Spec.PodManagementPolicy = "Random" },
			[]string{"spec.podManagementPolicy"}},
		{"OnDelete with rollingUpdate", func(s *appsv1.StatefulSet) { s.Spec.UpdateStrategy.Type = api.OnDeleteStatefulSetStrategyType },
			[]string{"spec.updateStrategy.rollingUpdate"}},
		{"negative partition", func(s *appsv1.StatefulSet) { s.Spec.UpdateStrategy.RollingUpdate.Partition = proto.Int32(-1) },
			[]string{"spec.updateStrategy.rollingUpdate.partition"}},
		{"zero maxUnavailable", func(s *appsv1.StatefulSet) {
			s.Spec.UpdateStrategy.RollingUpdate.MaxUnavailable = api.IntOrStringFromString("0%")
		}, []string{"spec.updateStrategy.rollingUpdate.maxUnavailable"}},
		{"bad retention", func(s *appsv1.StatefulSet) { s.Spec.PersistentVolumeClaimRetentionPolicy.WhenScaled = "Keep" },
			[]string{"spec.persistentVolumeClaimRetentionPolicy.whenScaled"}},
		{"negative ordinals.start", func(s *appsv1.StatefulSet) { s.Spec.Ordinals = &appsv1.StatefulSetOrdinals{Start: -1} },
			[]string{"spec.ordinals.start"}},
		{"claim without storage or access mode", func(s *appsv1.StatefulSet) {
			s.Spec.VolumeClaimTemplates[0].Spec.Resources = nil
			s.Spec.VolumeClaimTemplates[0].Spec.AccessModes = nil
		}, []string{"spec.volumeClaimTemplates[0].spec.resources.requests[storage]", "spec.volumeClaimTemplates[0].spec.accessModes"}},
		{"mount of no volume or claim", func(s *appsv1.StatefulSet) { s.Spec.VolumeClaimTemplates[0].Metadata.Name = "data" },
			[]string{"spec.template.spec.containers[0].volumeMounts[0].name"}},
		{"template volume named as a claim template (the claim's replaces it in pods)", func(s *appsv1.StatefulSet) {
			name := s.Spec.VolumeClaimTemplates[0].Metadata.Name
			s.Spec.Template.Spec.Volumes = append(s.Spec.Template.Spec.Volumes, &corev1.Volume{Name: name,
				PersistentVolumeClaim: &corev1.PersistentVolumeClaimVolumeSource{ClaimName: name}})
		}, nil},
	} {
		ss := webSTS(t)
		tc.mutate(ss)
		checkPaths(t, tc.name, registry.ValidateCreate(ss), tc.want)
	}
}

func TestStatefulSetUpdateValidation(t *testing.T) {
	old := webSTS(t)
	for _, tc := range []struct {
		name   string
		mutate func(*appsv1.StatefulSet)
		want   []string
	}{
		{"replicas, template, strategy, minReadySeconds, ordinals may change", func(s *appsv1.StatefulSet) {
			s.Spec.Replicas = proto.Int32(5)
			s.Spec.Template.Spec.Containers[0].Image = "nginx:2"
			s.Spec.UpdateStrategy.RollingUpdate.Partition = proto.Int32(2)
			s.Spec.MinReadySeconds = 0
			s.Spec.Ordinals = &appsv1.StatefulSetOrdinals{Start: 1}
			s.Spec.PersistentVolumeClaimRetentionPolicy.WhenDeleted = api.DeletePersistentVolumeClaimRetentionPolicyType
		}, nil},
		{"serviceName may not", func(s *appsv1.StatefulSet) { s.Spec.ServiceName = "other" }, []string{"spec"}},
		{"podManagementPolicy may not", func(s *appsv1.StatefulSet) { s.Spec.PodManagementPolicy = api.ParallelPodManagement }, []string{"spec"}},
		{"volumeClaimTemplates may not", func(s *appsv1.StatefulSet) {
			s.Spec.VolumeClaimTemplates[0].Spec.AccessModes = []string{"ReadWriteMany"}
		}, []string{"spec"}},
	} {
		ss := proto.Clone(old).(*appsv1.StatefulSet)
		tc.mutate(ss)
		checkPaths(t, tc.name, registry.ValidateUpdate(ss, old), tc.want)
	}
}
