package stats

import (
	"bufio"
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"
)

// HostSample is one reading of the node's own usage.
type HostSample struct {
	Time time.Time
	// CPUNanos is the CPU time all processes have used (the root cgroup's,
	// else /proc/stat's busy time).
	CPUNanos uint64
	// UsageBytes is all memory in use; WorkingSetBytes less the inactive
	// page cache (as the kubelet's root-cgroup figure).
	UsageBytes, WorkingSetBytes uint64
}

// Host reads the node's usage from the root cgroup (v1: cpuacct.usage and
// memory.usage_in_bytes less total_inactive_file; v2: cpu.stat), falling
// back on /proc/stat and /proc/meminfo.
type Host struct {
	// CgroupRoot is where cgroups are mounted ("/sys/fs/cgroup" when
	// empty); ProcRoot is procfs ("/proc" when empty).
	CgroupRoot, ProcRoot string
	// Now is the clock (time.Now when nil).
	Now func() time.Time
}

// userHZ is the unit of /proc/stat's times (USER_HZ, 100 on Linux).
const userHZ = 100

// Read samples the node.
func (h Host) Read() (HostSample, error) {
	cg, proc := h.CgroupRoot, h.ProcRoot
	if cg == "" {
		cg = "/sys/fs/cgroup"
	}
	if proc == "" {
		proc = "/proc"
	}
	now := time.Now
	if h.Now != nil {
		now = h.Now
	}
	s := HostSample{Time: now()}
	cpu, err := readCgroupCPU(cg)
	if err != nil {
		b, perr := os.ReadFile(filepath.Join(proc, "stat"))
		if perr != nil {
			return HostSample{}, fmt.Errorf("node CPU: %v; %v", err, perr)
		}
		if cpu, err = ParseProcStatCPU(b); err != nil {
			return HostSample{}, fmt.Errorf("node CPU: %v", err)
		}
	}
	s.CPUNanos = cpu
	if usage, ws, err := readCgroupV1Memory(cg); err == nil {
		s.UsageBytes, s.WorkingSetBytes = usage, ws
		return s, nil
	}
	b, err := os.ReadFile(filepath.Join(proc, "meminfo"))
	if err != nil {
		return HostSample{}, fmt.Errorf("node memory: %v", err)
	}
	if s.UsageBytes, s.WorkingSetBytes, err = ParseMeminfo(b); err != nil {
		return HostSample{}, fmt.Errorf("node memory: %v", err)
	}
	return s, nil
}

// readCgroupCPU reads the root cgroup's CPU time: v1 cpuacct.usage
// (nanoseconds) or v2 cpu.stat usage_usec.
func readCgroupCPU(root string) (uint64, error) {
	for _, dir := range []string{"cpu,cpuacct", "cpuacct", "cpu"} {
		if b, err := os.ReadFile(filepath.Join(root, dir, "cpuacct.usage")); err == nil {
			return strconv.ParseUint(strings.TrimSpace(string(b)), 10, 64)
		}
	}
	b, err := os.ReadFile(filepath.Join(root, "cpu.stat"))
	if err != nil {
		return 0, err
	}
	v, ok := flatKeyed(b)["usage_usec"]
	if !ok {
		return 0, fmt.Errorf("%s: no usage_usec", filepath.Join(root, "cpu.stat"))
	}
	return v * 1000, nil
}

// readCgroupV1Memory reads the root memory cgroup (v1).
func readCgroupV1Memory(root string) (usage, workingSet uint64, err error) {
	b, err := os.ReadFile(filepath.Join(root, "memory", "memory.usage_in_bytes"))
	if err != nil {
		return 0, 0, err
	}
	usage, err = strconv.ParseUint(strings.TrimSpace(string(b)), 10, 64)
	if err != nil {
		return 0, 0, err
	}
	st, err := os.ReadFile(filepath.Join(root, "memory", "memory.stat"))
	if err != nil {
		return 0, 0, err
	}
	return usage, WorkingSet(usage, flatKeyed(st)["total_inactive_file"]), nil
}

// WorkingSet is usage less inactive file pages, never below zero.
func WorkingSet(usage, inactiveFile uint64) uint64 {
	if inactiveFile > usage {
		return 0
	}
	return usage - inactiveFile
}

// MeminfoFields reads /proc/meminfo's "Key: value [kB]" lines, in bytes,
// by key ("MemTotal"); lines it cannot read are left out.
func MeminfoFields(b []byte) map[string]uint64 {
	vals := map[string]uint64{}
	sc := bufio.NewScanner(bytes.NewReader(b))
	for sc.Scan() {
		key, rest, ok := strings.Cut(sc.Text(), ":")
		if !ok {
			continue
		}
		f := strings.Fields(rest)
		if len(f) == 0 {
			continue
		}
		n, err := strconv.ParseUint(f[0], 10, 64)
		if err != nil {
			continue
		}
		if len(f) > 1 && f[1] == "kB" {
			n *= 1024
		}
		vals[key] = n
	}
	return vals
}

// flatKeyed parses "key value" lines (cgroup stat files).
func flatKeyed(b []byte) map[string]uint64 {
	out := map[string]uint64{}
	sc := bufio.NewScanner(bytes.NewReader(b))
	for sc.Scan() {
		f := strings.Fields(sc.Text())
		if len(f) != 2 {
			continue
		}
		if v, err := strconv.ParseUint(f[1], 10, 64); err == nil {
			out[f[0]] = v
		}
	}
	return out
}

// ParseProcStatCPU returns the busy CPU time (all but idle and iowait) of
// /proc/stat's "cpu" line, in nanoseconds.
func ParseProcStatCPU(b []byte) (uint64, error) {
	sc := bufio.NewScanner(bytes.NewReader(b))
	for sc.Scan() {
		f := strings.Fields(sc.Text())
		if len(f) < 5 || f[0] != "cpu" {
			continue
		}
		var busy uint64
		// user nice system idle iowait irq softirq steal (guest times
		// are already in user and nice).
		for i, v := range f[1:] {
			if i >= 8 {
				break
			}
			n, err := strconv.ParseUint(v, 10, 64)
			if err != nil {
				return 0, fmt.Errorf("/proc/stat: %q: %v", sc.Text(), err)
			}
			if i == 3 || i == 4 { // idle, iowait
				continue
			}
			busy += n
		}
		return busy * (1e9 / userHZ), nil
	}
	return 0, fmt.Errorf("/proc/stat: no cpu line")
}

// ParseMeminfo returns the memory in use (MemTotal less MemFree) and the
// working set (MemTotal less MemAvailable) from /proc/meminfo, in bytes.
func ParseMeminfo(b []byte) (usage, workingSet uint64, err error) {
	vals := MeminfoFields(b)
	total, ok1 := vals["MemTotal"]
	avail, ok2 := vals["MemAvailable"]
	if !ok1 || !ok2 {
		return 0, 0, fmt.Errorf("/proc/meminfo: no MemTotal or MemAvailable")
	}
	return WorkingSet(total, vals["MemFree"]), WorkingSet(total, avail), nil
}
