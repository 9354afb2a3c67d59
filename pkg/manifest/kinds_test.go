package manifest_test

// The tests decode every registered kind.
import _ "keel.dev/keel/pkg/registry/all"
