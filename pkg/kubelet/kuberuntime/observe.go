package kuberuntime

import (
	"bytes"
	"context"
	"io"
	"os"
	"strings"
	"sync"
	"time"

	runtimeapi "k8s.io/cri-api/pkg/apis/runtime/v1"

	"keel.dev/keel/pkg/kubelet/cri"
	"keel.dev/keel/pkg/kubelet/podsync"
)

// maxTerminationMessage bounds a termination message, as Kubernetes does.
const maxTerminationMessage = 4096

// Observer reads what the runtime holds for a pod. It caches what cannot
// change any more (the status of an exited container, the IP of a
// sandbox), so a sync costs two list calls plus one status call per live
// container. Safe for concurrent use.
type Observer struct {
	rt cri.Runtime

	mu     sync.Mutex
	exited map[string]map[string]podsync.Container // pod uid → container ID → final state
	ips    map[string]map[string]string            // pod uid → sandbox ID → IP
}

// NewObserver returns an Observer over rt.
func NewObserver(rt cri.Runtime) *Observer {
	return &Observer{rt: rt, exited: map[string]map[string]podsync.Container{}, ips: map[string]map[string]string{}}
}

func unixNano(n int64) time.Time {
	if n == 0 {
		return time.Time{}
	}
	return time.Unix(0, n)
}

// Pod returns the runtime state of the pod with this uid.
func (o *Observer) Pod(ctx context.Context, uid string) (podsync.RuntimePod, error) {
	sel := map[string]string{LabelPodUID: uid}
	sbs, err := o.rt.ListPodSandbox(ctx, &runtimeapi.PodSandboxFilter{LabelSelector: sel})
	if err != nil {
		return podsync.RuntimePod{}, err
	}
	ctrs, err := o.rt.ListContainers(ctx, &runtimeapi.ContainerFilter{LabelSelector: sel})
	if err != nil {
		return podsync.RuntimePod{}, err
	}
	o.mu.Lock()
	oldIPs, oldExited := o.ips[uid], o.exited[uid]
	o.mu.Unlock()
	ips, exited := map[string]string{}, map[string]podsync.Container{}

	var out podsync.RuntimePod
	for _, sb := range sbs {
		s := podsync.Sandbox{ID: sb.Id, Attempt: sb.GetMetadata().GetAttempt(), Ready: sb.State == runtimeapi.PodSandboxState_SANDBOX_READY,
			CreatedAt: unixNano(sb.CreatedAt)}
		if s.Ready {
			ip, ok := oldIPs[sb.Id]
			if !ok {
				st, err := o.rt.PodSandboxStatus(ctx, sb.Id, false)
				if cri.IsNotFound(err) {
					continue
				}
				if err != nil {
					return podsync.RuntimePod{}, err
				}
				ip = st.GetStatus().GetNetwork().GetIp()
				s.Ready = st.GetStatus().GetState() == runtimeapi.PodSandboxState_SANDBOX_READY
			}
			if s.Ready {
				ips[sb.Id] = ip
			}
			s.IP = ip
		}
		out.Sandboxes = append(out.Sandboxes, s)
	}
	for _, c := range ctrs {
		if done, ok := oldExited[c.Id]; ok {
			exited[c.Id] = done
			out.Containers = append(out.Containers, done)
			continue
		}
		resp, err := o.rt.ContainerStatus(ctx, c.Id, false)
		if cri.IsNotFound(err) {
			continue // removed meanwhile
		}
		if err != nil {
			return podsync.RuntimePod{}, err
		}
		pc := Convert(resp.GetStatus(), c.PodSandboxId)
		if pc.State == podsync.StateExited {
			pc.Message = terminationMessage(resp.GetStatus())
			exited[c.Id] = pc
		}
		out.Containers = append(out.Containers, pc)
	}
	o.mu.Lock()
	o.ips[uid], o.exited[uid] = ips, exited
	o.mu.Unlock()
	return out, nil
}

// Forget drops what the Observer cached about a pod.
func (o *Observer) Forget(uid string) {
	o.mu.Lock()
	defer o.mu.Unlock()
	delete(o.ips, uid)
	delete(o.exited, uid)
}

// Convert maps a CRI container status to podsync's view.
func Convert(st *runtimeapi.ContainerStatus, sandboxID string) podsync.Container {
	c := podsync.Container{
		ID:         st.GetId(),
		SandboxID:  sandboxID,
		Name:       st.GetMetadata().GetName(),
		Attempt:    st.GetMetadata().GetAttempt(),
		Hash:       st.GetAnnotations()[AnnotationHash],
		CreatedAt:  unixNano(st.GetCreatedAt()),
		StartedAt:  unixNano(st.GetStartedAt()),
		FinishedAt: unixNano(st.GetFinishedAt()),
		ExitCode:   st.GetExitCode(),
		Reason:     st.GetReason(),
		Image:      st.GetImage().GetImage(),
		ImageRef:   st.GetImageRef(),
	}
	if c.Name == "" {
		c.Name = st.GetLabels()[LabelContainerName]
	}
	switch st.GetState() {
	case runtimeapi.ContainerState_CONTAINER_CREATED:
		c.State = podsync.StateCreated
	case runtimeapi.ContainerState_CONTAINER_RUNNING:
		c.State = podsync.StateRunning
	case runtimeapi.ContainerState_CONTAINER_EXITED:
		c.State = podsync.StateExited
	default:
		c.State = podsync.StateUnknown
	}
	return c
}

// terminationMessage reads what an exited container wrote to its
// terminationMessagePath, or with FallbackToLogsOnError the end of its log
// when it failed without writing one.
func terminationMessage(st *runtimeapi.ContainerStatus) string {
	if p := st.GetAnnotations()[AnnotationTerminationMessage]; p != "" {
		if b, err := readAtMost(p, maxTerminationMessage, false); err == nil && len(b) > 0 {
			return string(b)
		}
	}
	if st.GetAnnotations()[AnnotationTerminationMessagePolicy] == "FallbackToLogsOnError" && st.GetExitCode() != 0 && st.GetLogPath() != "" {
		if b, err := readAtMost(st.GetLogPath(), 16*maxTerminationMessage, true); err == nil {
			msg := LogText(b)
			if len(msg) > maxTerminationMessage {
				msg = msg[len(msg)-maxTerminationMessage:]
			}
			return msg
		}
	}
	return ""
}

// readAtMost reads the first (or, with tail, the last) n bytes of a file.
func readAtMost(path string, n int64, tail bool) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	if tail {
		if fi, err := f.Stat(); err == nil && fi.Size() > n {
			if _, err := f.Seek(fi.Size()-n, io.SeekStart); err != nil {
				return nil, err
			}
		}
	}
	return io.ReadAll(io.LimitReader(f, n))
}

// LogText extracts the text of CRI log lines ("<time> <stream> <P|F>
// <text>"): full lines end with a newline, partial ones (P) do not.
func LogText(b []byte) string {
	var out strings.Builder
	for _, line := range bytes.Split(b, []byte("\n")) {
		f := bytes.SplitN(line, []byte(" "), 4)
		if len(f) < 4 {
			continue
		}
		out.Write(f[3])
		if string(f[2]) != "P" {
			out.WriteByte('\n')
		}
	}
	return out.String()
}

// Images returns the IDs of the images present among refs.
func Images(ctx context.Context, rt cri.Runtime, refs []string) (map[string]string, error) {
	out := map[string]string{}
	for _, ref := range refs {
		if _, done := out[ref]; done {
			continue
		}
		st, err := rt.ImageStatus(ctx, &runtimeapi.ImageSpec{Image: ref}, false)
		if err != nil {
			return nil, err
		}
		if st.GetImage() != nil {
			out[ref] = st.GetImage().GetId()
		}
	}
	return out, nil
}
