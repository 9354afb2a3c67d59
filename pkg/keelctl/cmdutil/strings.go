package cmdutil

import "strings"

// Enumerate joins names as prose: "a", "a and b", "a, b and c".
func Enumerate(names []string) string {
	if len(names) < 2 {
		return strings.Join(names, "")
	}
	return strings.Join(names[:len(names)-1], ", ") + " and " + names[len(names)-1]
}
