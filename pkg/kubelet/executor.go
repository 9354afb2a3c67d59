package kubelet

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"sync"
	"time"

	"go.uber.org/zap"
	runtimeapi "k8s.io/cri-api/pkg/apis/runtime/v1"

	"keel.dev/keel/pkg/api"
	"keel.dev/keel/pkg/apierrors"
	corev1 "keel.dev/keel/pkg/apis/core/v1"
	nodev1 "keel.dev/keel/pkg/apis/node/v1"
	"keel.dev/keel/pkg/client"
	"keel.dev/keel/pkg/kubelet/cri"
	"keel.dev/keel/pkg/kubelet/envvars"
	"keel.dev/keel/pkg/kubelet/kuberuntime"
	"keel.dev/keel/pkg/kubelet/lifecycle"
	"keel.dev/keel/pkg/kubelet/podsync"
)

// sandboxOptions are the node's settings for sandboxes.
func (k *Kubelet) sandboxOptions() kuberuntime.SandboxOptions {
	return kuberuntime.SandboxOptions{LogRoot: k.cfg.PodLogDir, ClusterDNS: k.cfg.ClusterDNS, ClusterDomain: k.cfg.ClusterDomain, CgroupRoot: k.cfg.CgroupRoot}
}

// execution is the state of one plan's execution.
type execution struct {
	w         *podWorker
	pod       *corev1.Pod
	sandboxID string
	sbConfig  *runtimeapi.PodSandboxConfig
	podIP     string
	noSandbox bool // CreateSandbox failed: skip the starts
	// hookCtx bounds the hooks the plan runs (the worker's hookContext).
	hookCtx context.Context
}

// execute performs a plan's actions in order (see each action's contract)
// and returns the errors joined. Hooks run within hookCtx (and ctx).
func (w *podWorker) execute(ctx, hookCtx context.Context, pod *corev1.Pod, obs podsync.RuntimePod, plan podsync.Plan) error {
	x := &execution{w: w, pod: pod, hookCtx: hookCtx}
	if sb := currentSandbox(obs); sb != nil && sb.Ready && pod != nil {
		x.sandboxID, x.podIP = sb.ID, sb.IP
		x.sbConfig = kuberuntime.SandboxConfig(pod, sb.Attempt, w.k.sandboxOptions())
	}
	var errs []error
	for _, a := range plan.Actions {
		if err := x.do(ctx, a, obs); err != nil {
			errs = append(errs, fmt.Errorf("%s: %w", a, err))
			if _, cleanup := a.(podsync.CleanupPod); cleanup {
				break // do not delete the pod from the API before its cleanup
			}
		}
	}
	return errors.Join(errs...)
}

func (x *execution) do(ctx context.Context, a podsync.Action, obs podsync.RuntimePod) error {
	w, k := x.w, x.w.k
	switch a := a.(type) {
	case podsync.CreateSandbox:
		return x.createSandbox(ctx, a)
	case podsync.StartContainer:
		if x.noSandbox {
			return nil
		}
		return x.startContainer(ctx, a)
	case podsync.KillContainer:
		w.event(x.pod, api.EventTypeNormal, api.EventReasonKilling, "Stopping container %s: %s", a.Name, a.Message)
		err := x.stopContainer(ctx, a.ID, a.Name, a.Grace)
		if cri.IsNotFound(err) {
			return nil
		}
		return err
	case podsync.KillPod:
		return x.killPod(ctx, a)
	case podsync.StopSandbox:
		err := k.rt.StopPodSandbox(ctx, a.ID)
		if cri.IsNotFound(err) {
			return nil
		}
		return err
	case podsync.RemoveContainer:
		return k.rt.RemoveContainer(ctx, a.ID)
	case podsync.RemoveSandbox:
		return k.rt.RemovePodSandbox(ctx, a.ID)
	case podsync.CleanupPod:
		return x.cleanup(ctx, obs)
	case podsync.DeletePod:
		return x.deletePod(ctx)
	}
	return fmt.Errorf("unknown action %T", a)
}

func (x *execution) createSandbox(ctx context.Context, a podsync.CreateSandbox) error {
	w, k := x.w, x.w.k
	x.noSandbox = true
	cfg := kuberuntime.SandboxConfig(x.pod, a.Attempt, k.sandboxOptions())
	if err := os.MkdirAll(cfg.LogDirectory, 0o755); err != nil {
		return err
	}
	id, err := k.runSandbox(ctx, x.pod, cfg)
	if err != nil && ctx.Err() != nil {
		return err // the pod's work was cancelled: nothing failed
	}
	if err != nil {
		w.event(x.pod, api.EventTypeWarning, api.EventReasonFailedCreatePodSandBox, "Failed to create pod sandbox: %v", err)
		return err
	}
	if a.Reason != "" {
		w.event(x.pod, api.EventTypeNormal, api.EventReasonSandboxChanged, "Pod sandbox changed, it will be killed and re-created.")
	}
	ip := ""
	if !x.pod.GetSpec().GetHostNetwork() {
		st, err := k.rt.PodSandboxStatus(ctx, id, false)
		if err != nil {
			return err
		}
		ip = st.GetStatus().GetNetwork().GetIp()
	}
	x.sandboxID, x.sbConfig, x.podIP, x.noSandbox = id, cfg, ip, false
	return nil
}

func findContainer(pod *corev1.Pod, name string, init bool) *corev1.Container {
	list := pod.GetSpec().GetContainers()
	if init {
		list = pod.GetSpec().GetInitContainers()
	}
	for _, c := range list {
		if c.GetName() == name {
			return c
		}
	}
	return nil
}

// startContainer pulls (per the action), creates and starts a container,
// recording pull back-off and start errors.
func (x *execution) startContainer(ctx context.Context, a podsync.StartContainer) error {
	w, k := x.w, x.w.k
	if x.sandboxID == "" {
		return errors.New("no ready sandbox")
	}
	spec := findContainer(x.pod, a.Name, a.Init)
	if spec == nil {
		return fmt.Errorf("container %q is not in the pod spec", a.Name)
	}
	if a.Backoff != nil {
		w.backoff[a.Name] = *a.Backoff
	}
	fail := func(reason string, err error) error {
		w.startErrors[a.Name] = podsync.StartError{Reason: reason, Message: err.Error(), Fresh: true}
		return err
	}
	if a.Pull {
		w.event(x.pod, api.EventTypeNormal, api.EventReasonPulling, "Pulling image %q", a.Image)
		start := time.Now()
		if _, err := k.rt.PullImage(ctx, &runtimeapi.ImageSpec{Image: a.Image}, nil, x.sbConfig); err != nil {
			if ctx.Err() != nil {
				return err
			}
			pb := w.pullBackoff[a.Image]
			if pb.Delay == 0 {
				pb.Delay = k.sync.PullBackoffInitial
			} else {
				pb.Delay = min(2*pb.Delay, k.sync.PullBackoffMax)
			}
			pb.Until = k.clock.Now().Add(pb.Delay)
			pb.Message = err.Error()
			w.pullBackoff[a.Image] = pb
			w.event(x.pod, api.EventTypeWarning, api.EventReasonFailed, "Failed to pull image %q: %v", a.Image, err)
			return fail(podsync.ReasonErrImagePull, fmt.Errorf("failed to pull image %q: %w", a.Image, err))
		}
		delete(w.pullBackoff, a.Image)
		w.event(x.pod, api.EventTypeNormal, api.EventReasonPulled, "Successfully pulled image %q in %v", a.Image, time.Since(start).Round(time.Millisecond))
	}
	hostIP := k.hostIP
	podIP := x.podIP
	if x.pod.GetSpec().GetHostNetwork() {
		podIP = hostIP
	}
	envs, err := envvars.Resolve(x.pod, spec, podIP, hostIP, sources{k})
	if err != nil {
		w.event(x.pod, api.EventTypeWarning, api.EventReasonFailed, "Error: %v", err)
		return fail(podsync.ReasonCreateContainerConfigError, err)
	}
	var mounts []*runtimeapi.Mount
	if len(spec.GetVolumeMounts()) > 0 {
		if mounts, err = k.volumes.Mounts(x.pod, spec, envs, w.hostPaths); err != nil {
			w.event(x.pod, api.EventTypeWarning, api.EventReasonFailed, "Error: %v", err)
			return fail(podsync.ReasonCreateContainerConfigError, err)
		}
	}
	termPath, err := k.terminationMessageFile(x.pod, a.Name, a.Attempt)
	if err != nil {
		return fail(podsync.ReasonCreateContainerErr, err)
	}
	cfg := kuberuntime.ContainerConfig(x.pod, spec, a.Attempt, kuberuntime.ContainerOptions{
		Envs: envs, Mounts: mounts, TerminationMessageHostPath: termPath, MemoryCapacity: k.machine.MemoryBytes,
	})
	id, err := k.rt.CreateContainer(ctx, x.sandboxID, cfg, x.sbConfig)
	if err != nil {
		w.event(x.pod, api.EventTypeWarning, api.EventReasonFailed, "Error: %v", err)
		return fail(podsync.ReasonCreateContainerErr, err)
	}
	w.event(x.pod, api.EventTypeNormal, api.EventReasonCreated, "Created container %s", a.Name)
	if err := k.rt.StartContainer(ctx, id); err != nil {
		w.event(x.pod, api.EventTypeWarning, api.EventReasonFailed, "Error: %v", err)
		return fail(podsync.ReasonRunContainerError, err)
	}
	w.event(x.pod, api.EventTypeNormal, api.EventReasonStarted, "Started container %s", a.Name)
	if h := spec.GetLifecycle().GetPostStart(); h != nil {
		// The start is done when the hook returns; a failed hook kills the
		// container (preStop included) and its restart policy applies.
		if err := k.hooks.Run(x.hookCtx, spec, id, podIP, h); err != nil {
			if x.hookCtx.Err() != nil {
				return err // the pod is being deleted: its sync stops the container
			}
			err = fmt.Errorf("PostStartHook failed: %w", err)
			w.event(x.pod, api.EventTypeWarning, lifecycle.ReasonFailedPostStartHook, "%v", err)
			w.event(x.pod, api.EventTypeNormal, api.EventReasonKilling, "Stopping container %s: %s", a.Name, lifecycle.ReasonFailedPostStartHook)
			if kerr := x.stopContainer(ctx, id, a.Name, podsync.TerminationGrace(x.pod)); kerr != nil && !cri.IsNotFound(kerr) {
				err = errors.Join(err, kerr)
			}
			return fail(lifecycle.ReasonPostStartHookError, err)
		}
	}
	delete(w.startErrors, a.Name)
	if !a.Init {
		k.prober.AddContainer(x.pod, a.Name, id, podIP)
		w.probed[a.Name] = id
	}
	return nil
}

// stopContainer stops an app container of the pod: its preStop hook (if
// any) first, then SIGTERM, SIGKILL when grace runs out (lifecycle.Runner.Stop).
func (x *execution) stopContainer(ctx context.Context, id, name string, grace time.Duration) error {
	spec := findContainer(x.pod, name, false)
	podIP := x.podIP
	if x.pod.GetSpec().GetHostNetwork() {
		podIP = x.w.k.hostIP
	}
	return x.w.k.hooks.Stop(ctx, x.hookCtx, spec, id, podIP, grace, func(err error) {
		x.w.event(x.pod, api.EventTypeWarning, lifecycle.ReasonFailedPreStopHook, "PreStopHook failed: %v", err)
	})
}

// terminationMessageFile creates the (empty) host file mounted at the
// container's terminationMessagePath: RootDir/pods/<uid>/containers/<name>/<attempt>.
func (k *Kubelet) terminationMessageFile(pod *corev1.Pod, name string, attempt uint32) (string, error) {
	dir := filepath.Join(k.cfg.RootDir, "pods", pod.GetMetadata().GetUid(), "containers", name)
	if err := os.MkdirAll(dir, 0o750); err != nil {
		return "", err
	}
	p := filepath.Join(dir, strconv.FormatUint(uint64(attempt), 10))
	f, err := os.OpenFile(p, os.O_CREATE|os.O_TRUNC|os.O_WRONLY, 0o666)
	if err != nil {
		return "", err
	}
	if err := f.Chmod(0o666); err != nil { // any container user may write it
		f.Close()
		return "", err
	}
	return p, f.Close()
}

// killPod stops the containers concurrently, then the sandboxes.
func (x *execution) killPod(ctx context.Context, a podsync.KillPod) error {
	w, k := x.w, x.w.k
	var mu sync.Mutex
	var errs []error
	var wg sync.WaitGroup
	for _, c := range a.Containers {
		w.event(x.pod, api.EventTypeNormal, api.EventReasonKilling, "Stopping container %s", c.Name)
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := x.stopContainer(ctx, c.ID, c.Name, c.Grace); err != nil && !cri.IsNotFound(err) {
				mu.Lock()
				errs = append(errs, err)
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	for _, id := range a.Sandboxes {
		if err := k.rt.StopPodSandbox(ctx, id); err != nil && !cri.IsNotFound(err) {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

// cleanup removes everything the pod left on the node.
func (x *execution) cleanup(ctx context.Context, obs podsync.RuntimePod) error {
	w, k := x.w, x.w.k
	var errs []error
	for _, sb := range obs.Sandboxes {
		if err := k.rt.StopPodSandbox(ctx, sb.ID); err != nil && !cri.IsNotFound(err) {
			errs = append(errs, err)
			continue
		}
		if err := k.rt.RemovePodSandbox(ctx, sb.ID); err != nil {
			errs = append(errs, err)
		}
	}
	for _, c := range obs.Containers {
		if err := k.rt.RemoveContainer(ctx, c.ID); err != nil {
			errs = append(errs, err)
		}
	}
	if len(errs) > 0 {
		return errors.Join(errs...)
	}
	k.prober.RemovePod(w.uid)
	k.tokens.ForgetPod(w.uid)
	if err := k.volumes.Teardown(w.uid); err != nil {
		return err
	}
	if dirs, _ := filepath.Glob(filepath.Join(k.cfg.PodLogDir, "*_"+w.uid)); len(dirs) > 0 {
		for _, d := range dirs {
			if err := os.RemoveAll(d); err != nil {
				errs = append(errs, err)
			}
		}
	}
	removePodCgroups(k.cfg.CgroupRoot, w.uid)
	k.observer.Forget(w.uid)
	k.status.forget(w.uid)
	return errors.Join(errs...)
}

// removePodCgroups removes the pod's cgroup directories (left empty by the
// runtime) in every hierarchy, best effort.
func removePodCgroups(root, uid string) {
	if root == "" {
		return
	}
	rel := kuberuntime.PodCgroup(root, uid)
	dirs, _ := filepath.Glob("/sys/fs/cgroup/*" + rel)
	dirs = append(dirs, "/sys/fs/cgroup"+rel)
	for _, d := range dirs {
		_ = os.Remove(d)
	}
}

// deletePod removes the pod from the API: grace 0, uid precondition.
func (x *execution) deletePod(ctx context.Context) error {
	m := x.pod.GetMetadata()
	zero := int64(0)
	_, _, err := x.w.k.client.Pods(m.GetNamespace()).Delete(ctx, m.GetName(), client.DeleteOptions{
		GracePeriodSeconds: &zero,
		Preconditions:      &client.Preconditions{UID: m.GetUid()},
	})
	if apierrors.IsNotFound(err) || apierrors.IsConflict(err) {
		return nil
	}
	if err == nil {
		x.w.logger().Info("pod terminated and deleted", zap.String("pod", m.GetNamespace()+"/"+m.GetName()))
	}
	return err
}

// runSandbox runs pod's sandbox with the handler of its RuntimeClass,
// holding one of the sandbox slots (when they are limited) while the
// runtime creates it.
func (k *Kubelet) runSandbox(ctx context.Context, pod *corev1.Pod, cfg *runtimeapi.PodSandboxConfig) (string, error) {
	handler, err := k.runtimeHandler(ctx, pod)
	if err != nil {
		return "", err
	}
	if k.sandboxSlots != nil {
		select {
		case k.sandboxSlots <- struct{}{}:
		case <-ctx.Done():
			return "", ctx.Err()
		}
		defer func() { <-k.sandboxSlots }()
	}
	return k.rt.RunPodSandbox(ctx, cfg, handler)
}

// runtimeHandler is the CRI runtime handler of the pod's RuntimeClass
// (spec.runtimeClassName), read from the apiserver; "" (the runtime's
// default) when the pod names none. A class that does not exist is an
// error, so the sandbox is not created with the wrong runtime.
func (k *Kubelet) runtimeHandler(ctx context.Context, pod *corev1.Pod) (string, error) {
	name := pod.GetSpec().GetRuntimeClassName()
	if name == "" {
		return "", nil
	}
	rc, err := client.For[*nodev1.RuntimeClass](k.client, "").Get(ctx, name)
	if apierrors.IsNotFound(err) {
		return "", fmt.Errorf("RuntimeClass %q not found", name)
	}
	if err != nil {
		return "", fmt.Errorf("looking up RuntimeClass %q: %w", name, err)
	}
	return rc.GetHandler(), nil
}
