package nodestatus

import (
	"errors"
	"fmt"
	"net"
	"os"
	"runtime"
	"strconv"
	"strings"
	"syscall"

	"keel.dev/keel/pkg/kubelet/stats"
)

// Machine describes the node: its capacity and identity.
type Machine struct {
	// MilliCPU, MemoryBytes and EphemeralStorageBytes are the capacity.
	MilliCPU              int64
	MemoryBytes           int64
	EphemeralStorageBytes int64
	KernelVersion         string
	OSImage               string
	OperatingSystem       string
	Architecture          string
	MachineID             string
	SystemUUID            string
	BootID                string
}

// ReadMachine reads the machine's capacity and identity from /proc, /sys
// and /etc; storage is that of the filesystem holding rootDir.
func ReadMachine(rootDir string) (Machine, error) {
	m := Machine{
		MilliCPU:        int64(runtime.NumCPU()) * 1000,
		OperatingSystem: runtime.GOOS,
		Architecture:    runtime.GOARCH,
	}
	mem, err := meminfo()
	if err != nil {
		return m, err
	}
	m.MemoryBytes = mem["MemTotal"]
	if total, _, err := diskSpace(rootDir); err == nil {
		m.EphemeralStorageBytes = total
	} else {
		return m, fmt.Errorf("ephemeral storage of %s: %w", rootDir, err)
	}
	var u syscall.Utsname
	if err := syscall.Uname(&u); err == nil {
		m.KernelVersion = charsToString(u.Release[:])
	}
	m.OSImage = osImage()
	m.MachineID = firstLine("/etc/machine-id")
	m.BootID = firstLine("/proc/sys/kernel/random/boot_id")
	m.SystemUUID = firstLine("/sys/class/dmi/id/product_uuid")
	return m, nil
}

func charsToString(ca []int8) string {
	var b strings.Builder
	for _, c := range ca {
		if c == 0 {
			break
		}
		b.WriteByte(byte(c))
	}
	return b.String()
}

func firstLine(path string) string {
	b, err := os.ReadFile(path)
	if err != nil {
		return ""
	}
	line, _, _ := strings.Cut(string(b), "\n")
	return strings.TrimSpace(line)
}

// osImage is PRETTY_NAME of /etc/os-release ("Debian GNU/Linux 12 (bookworm)").
func osImage() string {
	b, err := os.ReadFile("/etc/os-release")
	if err != nil {
		return "Linux"
	}
	for _, line := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, "PRETTY_NAME="); ok {
			return strings.Trim(v, `"'`)
		}
	}
	return "Linux"
}

// meminfo parses /proc/meminfo into bytes.
func meminfo() (map[string]int64, error) {
	b, err := os.ReadFile("/proc/meminfo")
	if err != nil {
		return nil, err
	}
	out := map[string]int64{}
	for k, v := range stats.MeminfoFields(b) {
		out[k] = int64(v)
	}
	if out["MemTotal"] == 0 {
		return nil, errors.New("/proc/meminfo has no MemTotal")
	}
	return out, nil
}

func diskSpace(path string) (total, avail int64, err error) {
	var st syscall.Statfs_t
	for p := path; ; {
		if err = syscall.Statfs(p, &st); err == nil || p == "/" || p == "." {
			break
		}
		// The directory may not exist yet: measure its parent.
		p = parentDir(p)
	}
	if err != nil {
		return 0, 0, err
	}
	return int64(st.Blocks) * st.Bsize, int64(st.Bavail) * st.Bsize, nil
}

func parentDir(p string) string {
	i := strings.LastIndexByte(strings.TrimRight(p, "/"), '/')
	if i <= 0 {
		return "/"
	}
	return p[:i]
}

// Usage is what the pressure conditions look at.
type Usage struct {
	MemoryAvailableBytes int64
	DiskAvailableBytes   int64
	DiskCapacityBytes    int64
	Processes            int64
	MaxProcesses         int64
}

// ReadUsage reads the machine's current memory, disk (of rootDir) and
// process figures.
func ReadUsage(rootDir string) (Usage, error) {
	var u Usage
	mem, err := meminfo()
	if err != nil {
		return u, err
	}
	u.MemoryAvailableBytes = mem["MemAvailable"]
	if u.DiskCapacityBytes, u.DiskAvailableBytes, err = diskSpace(rootDir); err != nil {
		return u, err
	}
	if v, err := strconv.ParseInt(firstLine("/proc/sys/kernel/pid_max"), 10, 64); err == nil {
		u.MaxProcesses = v
	}
	if entries, err := os.ReadDir("/proc"); err == nil {
		for _, e := range entries {
			if c := e.Name()[0]; c >= '0' && c <= '9' {
				u.Processes++
			}
		}
	}
	return u, nil
}

// DefaultRouteIP returns the first IPv4 address of the interface that holds
// the default route (from /proc/net/route), the node's address when
// --node-ip is not given.
func DefaultRouteIP() (string, error) {
	b, err := os.ReadFile("/proc/net/route")
	if err != nil {
		return "", err
	}
	iface := ""
	for _, line := range strings.Split(string(b), "\n")[1:] {
		f := strings.Fields(line)
		if len(f) >= 8 && f[1] == "00000000" && f[7] == "00000000" {
			iface = f[0]
			break
		}
	}
	if iface == "" {
		return "", errors.New("no default route: set --node-ip")
	}
	ifc, err := net.InterfaceByName(iface)
	if err != nil {
		return "", err
	}
	addrs, err := ifc.Addrs()
	if err != nil {
		return "", err
	}
	for _, a := range addrs {
		if ipn, ok := a.(*net.IPNet); ok && ipn.IP.To4() != nil && !ipn.IP.IsLinkLocalUnicast() {
			return ipn.IP.String(), nil
		}
	}
	return "", fmt.Errorf("interface %s of the default route has no IPv4 address: set --node-ip", iface)
}
