package metrics

import (
	"sync"

	"github.com/prometheus/client_golang/prometheus"

	"keel.dev/keel/pkg/kubelet/volume"
)

// VolumeStatsSource returns the usage of the volumes of one kubelet's pods
// (see volume.Manager.Stats); it is called on every scrape, so it should
// serve measurements it keeps rather than walk the volumes each time.
type VolumeStatsSource func() []volume.Stats

var volumeSources = struct {
	mu   sync.Mutex
	next int
	m    map[int]VolumeStatsSource
}{m: map[int]VolumeStatsSource{}}

// AddVolumeStats makes the volume metrics report what src returns, until
// remove is called (a kubelet adds itself while it runs).
func AddVolumeStats(src VolumeStatsSource) (remove func()) {
	volumeSources.mu.Lock()
	defer volumeSources.mu.Unlock()
	id := volumeSources.next
	volumeSources.next++
	volumeSources.m[id] = src
	return func() {
		volumeSources.mu.Lock()
		defer volumeSources.mu.Unlock()
		delete(volumeSources.m, id)
	}
}

var (
	claimLabels  = []string{"namespace", "persistentvolumeclaim"}
	volumeLabels = []string{"namespace", "pod", "volume"}

	// Kubernetes' kubelet_volume_stats_* for the volumes of claims.
	claimCapacity   = prometheus.NewDesc("kubelet_volume_stats_capacity_bytes", "Capacity in bytes of the volume", claimLabels, nil)
	claimAvailable  = prometheus.NewDesc("kubelet_volume_stats_available_bytes", "Number of available bytes in the volume", claimLabels, nil)
	claimUsed       = prometheus.NewDesc("kubelet_volume_stats_used_bytes", "Number of used bytes in the volume", claimLabels, nil)
	claimInodes     = prometheus.NewDesc("kubelet_volume_stats_inodes", "Maximum number of inodes in the volume", claimLabels, nil)
	claimInodesFree = prometheus.NewDesc("kubelet_volume_stats_inodes_free", "Number of free inodes in the volume", claimLabels, nil)
	claimInodesUsed = prometheus.NewDesc("kubelet_volume_stats_inodes_used", "Number of used inodes in the volume", claimLabels, nil)

	// Every measured volume of every pod (Kubernetes reports these in its
	// stats summary, which Keel's kubelet does not serve).
	podVolumeUsed       = prometheus.NewDesc("keel_kubelet_pod_volume_used_bytes", "Bytes used by a volume of a pod (its tree's allocated blocks).", volumeLabels, nil)
	podVolumeInodesUsed = prometheus.NewDesc("keel_kubelet_pod_volume_inodes_used", "Inodes used by a volume of a pod (its tree's entries).", volumeLabels, nil)
)

// volumeCollector reports the sources' volume stats on each scrape. A
// claim mounted by several pods is reported once.
type volumeCollector struct{}

func (volumeCollector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{claimCapacity, claimAvailable, claimUsed, claimInodes, claimInodesFree, claimInodesUsed,
		podVolumeUsed, podVolumeInodesUsed} {
		ch <- d
	}
}

func (volumeCollector) Collect(ch chan<- prometheus.Metric) {
	volumeSources.mu.Lock()
	srcs := make([]VolumeStatsSource, 0, len(volumeSources.m))
	for _, s := range volumeSources.m {
		srcs = append(srcs, s)
	}
	volumeSources.mu.Unlock()
	claims := map[[2]string]bool{}
	vols := map[[3]string]bool{}
	gauge := func(d *prometheus.Desc, v int64, labels ...string) {
		ch <- prometheus.MustNewConstMetric(d, prometheus.GaugeValue, float64(v), labels...)
	}
	for _, src := range srcs {
		for _, s := range src() {
			if k := [3]string{s.Namespace, s.Pod, s.Volume}; !vols[k] {
				vols[k] = true
				gauge(podVolumeUsed, s.UsedBytes, s.Namespace, s.Pod, s.Volume)
				gauge(podVolumeInodesUsed, s.InodesUsed, s.Namespace, s.Pod, s.Volume)
			}
			if k := [2]string{s.Namespace, s.Claim}; s.Claim != "" && !claims[k] {
				claims[k] = true
				gauge(claimCapacity, s.CapacityBytes, s.Namespace, s.Claim)
				gauge(claimAvailable, s.AvailableBytes, s.Namespace, s.Claim)
				gauge(claimUsed, s.UsedBytes, s.Namespace, s.Claim)
				gauge(claimInodes, s.Inodes, s.Namespace, s.Claim)
				gauge(claimInodesFree, s.InodesFree, s.Namespace, s.Claim)
				gauge(claimInodesUsed, s.InodesUsed, s.Namespace, s.Claim)
			}
		}
	}
}
