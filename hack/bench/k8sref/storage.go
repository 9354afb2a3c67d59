package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
	storagev1 "k8s.io/api/storage/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"keel.dev/keel/hack/bench/benchutil"
)

// Kubernetes has no local-path provisioner. pv-provision-N runs on the
// in-tree host-path provisioner instead, which kube-controller-manager
// runs with --enable-hostpath-provisioner: it makes one directory
// /tmp/hostpath_pv/UUID on the controller-manager's machine per volume and
// no other I/O, ignores the selected node (its volumes have no node
// affinity), and v1.31's PV controller provisions for it under
// WaitForFirstConsumer as soon as a claim carries the selected-node
// annotation, as for any in-tree provisioner.
const (
	hostPathProvisioner = "kubernetes.io/host-path"
	hostPathClass       = "hostpath"
	// hostPathRoot is where the host-path provisioner makes its
	// directories; the workload removes those of its volumes at the end.
	hostPathRoot = "/tmp/hostpath_pv/"
	// annSelectedNode is the node the scheduler chose for a claim's pod.
	annSelectedNode = "volume.kubernetes.io/selected-node"
)

// pvRows runs pv-provision-CLAIMS -runs times: -claims claims of the class
// hostpath (WaitForFirstConsumer, reclaim Delete), each carrying its
// selected node (spread over the kwok nodes, as hack/bench/storage sets
// them for Keel), from the first create to every claim Bound, with the
// control plane's CPU over each run. Its lines read as Keel's do.
func (cl *cluster) pvRows(ctx context.Context) (err error) {
	defer func() { err = errors.Join(err, cl.removeHostPathDirs(ctx)) }()
	reclaim, mode := corev1.PersistentVolumeReclaimDelete, storagev1.VolumeBindingWaitForFirstConsumer
	sc := &storagev1.StorageClass{ObjectMeta: metav1.ObjectMeta{Name: hostPathClass},
		Provisioner: hostPathProvisioner, ReclaimPolicy: &reclaim, VolumeBindingMode: &mode}
	if _, err := cl.storage.StorageClasses().Create(ctx, sc, metav1.CreateOptions{}); err != nil {
		return err
	}
	hollow := make([]string, *nodes)
	for i := range hollow {
		hollow[i] = fmt.Sprintf("hollow-%d", i)
	}
	var created, secs []float64
	var cpu []string
	for r := range *runs {
		ns := fmt.Sprintf("pv-%d", r)
		if err := cl.namespace(ctx, ns); err != nil {
			return err
		}
		meter := benchutil.StartCPU(cl.proc("kube-apiserver"), cl.proc("kube-controller-manager"), cl.proc("etcd"))
		c, d, err := cl.provision(ctx, ns, hollow)
		if err != nil {
			return fmt.Errorf("pv-provision-%d run %d: %w", *claims, r, err)
		}
		created, secs = append(created, c.Seconds()), append(secs, d.Seconds())
		cpu = append(cpu, meter.String())
	}
	sort.Float64s(created)
	sort.Float64s(secs)
	fmt.Printf("## pv-provision-%d: %d claims of the class %s (%s, WaitForFirstConsumer), each with its selected node (%d kwok nodes), from the first create to every claim Bound\n",
		*claims, *claims, hostPathClass, hostPathProvisioner, *nodes)
	fmt.Println("| claims | nodes | all claims created | every claim Bound |\n|---|---|---|---|")
	fmt.Printf("| %d | %d | %s s | %s s |\n\n", *claims, *nodes, benchutil.Spread(created, "%.2f"), benchutil.Spread(secs, "%.2f"))
	for i, s := range cpu {
		fmt.Printf("run %d %s\n", i+1, s)
	}
	fmt.Println()
	return nil
}

// provision creates the claims in ns one after another and returns how
// long until the last was created and until every one was Bound.
func (cl *cluster) provision(ctx context.Context, ns string, nodes []string) (created, bound time.Duration, err error) {
	pvcs := cl.core.PersistentVolumeClaims(ns)
	class := hostPathClass
	t0 := time.Now()
	for i := range *claims {
		claim := &corev1.PersistentVolumeClaim{
			ObjectMeta: metav1.ObjectMeta{Name: fmt.Sprintf("data-%d", i),
				Annotations: map[string]string{annSelectedNode: nodes[i%len(nodes)]}},
			Spec: corev1.PersistentVolumeClaimSpec{AccessModes: []corev1.PersistentVolumeAccessMode{corev1.ReadWriteOnce}, StorageClassName: &class,
				Resources: corev1.VolumeResourceRequirements{Requests: corev1.ResourceList{corev1.ResourceStorage: resource.MustParse("1Gi")}}},
		}
		if _, err := pvcs.Create(ctx, claim, metav1.CreateOptions{}); err != nil {
			return 0, 0, err
		}
	}
	created = time.Since(t0)
	err = benchutil.WaitFor(5*time.Minute, func() (bool, error) {
		if err := cl.exited(); err != nil {
			return false, err
		}
		l, err := pvcs.List(ctx, metav1.ListOptions{ResourceVersion: "0"})
		if err != nil {
			return false, err
		}
		nBound := 0
		for _, pvc := range l.Items {
			if pvc.Status.Phase == corev1.ClaimBound {
				nBound++
			}
		}
		return nBound == *claims, fmt.Errorf("%d of %d claims Bound", nBound, *claims)
	})
	return created, time.Since(t0), err
}

// removeHostPathDirs removes the directories the host-path provisioner
// made for this cluster's volumes (only those, and only under
// hostPathRoot): the volumes outlive the benchmark's cluster.
func (cl *cluster) removeHostPathDirs(ctx context.Context) error {
	l, err := cl.core.PersistentVolumes().List(ctx, metav1.ListOptions{})
	if err != nil {
		return fmt.Errorf("listing the host-path volumes to remove their directories: %w", err)
	}
	var errs []error
	for _, pv := range l.Items {
		hp := pv.Spec.HostPath
		if hp == nil || filepath.Clean(hp.Path) != hp.Path || !strings.HasPrefix(hp.Path, hostPathRoot) {
			continue
		}
		if err := os.Remove(hp.Path); err != nil && !os.IsNotExist(err) {
			errs = append(errs, err)
		}
	}
	// The root too, when nothing else is left in it.
	_ = os.Remove(hostPathRoot)
	return errors.Join(errs...)
}
