package explain

import (
	"strings"
	"testing"
)

func TestExplain(t *testing.T) {
	for _, tc := range []struct {
		path      string
		recursive bool
		want      []string // substrings, in order
		err       string
	}{
		{path: "pods", want: []string{"KIND:       Pod\nVERSION:    v1\n\nDESCRIPTION:\n", "FIELDS:\n  metadata\t<ObjectMeta>\n", "  spec\t<PodSpec>\n"}},
		{path: "Deployment.spec.strategy", want: []string{"GROUP:      apps\nKIND:       Deployment\nVERSION:    v1\n\nFIELD: strategy <DeploymentStrategy>\n\nDESCRIPTION:\n    DeploymentStrategy: type is RollingUpdate or Recreate", "FIELDS:\n  type\t<string>\n", "  rollingUpdate\t<RollingUpdateDeployment>\n"}},
		{path: "pod.spec.containers", want: []string{"FIELD: containers <[]Container>", "  image\t<string>\n"}},
		{path: "pod.metadata.labels", want: []string{"FIELD: labels <map[string]string>"}},
		{path: "pod.metadata.creationTimestamp", want: []string{"FIELD: creationTimestamp <string>"}},
		{path: "po.spec", recursive: true, want: []string{"FIELDS:\n  volumes\t<[]Volume>\n    name\t<string>\n", "  containers\t<[]Container>\n    name\t<string>\n    image\t<string>\n"}},
		{path: "pod.spec.nope", err: `field "nope" does not exist`},
		{path: "pod.spec.nodeName.x", err: `field "x" does not exist`},
		{path: "widgets", err: `the server doesn't have a resource type "widgets"`},
	} {
		t.Run(tc.path, func(t *testing.T) {
			var b strings.Builder
			err := Explain(&b, tc.path, tc.recursive)
			if tc.err != "" {
				if err == nil || err.Error() != tc.err {
					t.Fatalf("error %v, want %q", err, tc.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			out := b.String()
			for _, w := range tc.want {
				i := strings.Index(out, w)
				if i < 0 {
					t.Fatalf("output lacks %q:\n%s", w, out)
				}
				out = out[i+len(w):]
			}
		})
	}
}
