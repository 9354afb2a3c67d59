package cmdutil

import (
	"context"
	"fmt"
	"strings"

	"k8s.io/apimachinery/pkg/version"

	"keel.dev/keel/pkg/apierrors"
	apiextv1 "keel.dev/keel/pkg/apis/apiextensions/v1"
	"keel.dev/keel/pkg/client"
	"keel.dev/keel/pkg/registry"
	"keel.dev/keel/pkg/registry/apiextensions/customresource"
	"keel.dev/keel/pkg/registry/apiextensions/customresourcedefinition"
	"keel.dev/keel/pkg/scheme"
)

// The kinds of CustomResourceDefinitions are not compiled in: keelctl
// learns them from the server when a resource name or a manifest's
// apiVersion and kind is not one it knows (never on the common path of a
// compiled-in kind). It lists the definitions, as the user, and
// registers the kinds of every Established one with the code the
// apiserver serves them with (customresource.Strategies and
// registry.SetDynamic), so that names, short names, categories, scope,
// table columns, describe and explain come from the definitions.
//
// The definitions rather than discovery: keelctl prints tables and
// explains fields on the client, from a kind's strategy, and only the
// definition has the printer columns and the schema; discovery would give
// names and scope alone. The cost is that a user who may not list
// customresourcedefinitions cannot name custom resources with keelctl
// (kubectl, which asks the server for tables, only needs discovery).

// LoadCustomResources lists the CustomResourceDefinitions and registers
// the kinds of those Established that this process does not know yet. It
// lists once per invocation; later calls return the first call's error.
// A user who may not list the definitions gets an apierrors Forbidden
// error.
func (c *CLI) LoadCustomResources(ctx context.Context) error {
	if c.crdsLoaded {
		return c.crdsErr
	}
	c.crdsLoaded = true
	c.crdsErr = c.loadCustomResources(ctx)
	return c.crdsErr
}

func (c *CLI) loadCustomResources(ctx context.Context) error {
	cl, err := c.Clientset()
	if err != nil {
		return err
	}
	l, err := client.For[*apiextv1.CustomResourceDefinition](cl, "").List(ctx, client.ListOptions{})
	if err != nil {
		return err
	}
	for _, crd := range l.Items {
		if !customresourcedefinition.Established(crd) || crd.GetMetadata().GetDeletionTimestamp() != nil {
			continue
		}
		sp := crd.GetSpec()
		storage := customresourcedefinition.StorageVersion(crd)
		if _, known := scheme.ByGVK(sp.GetGroup()+"/"+storage, sp.GetNames().GetKind()); known {
			continue // registered already (by this process, or the apiserver of a test sharing it)
		}
		ss, err := customresource.Strategies(crd)
		if err == nil {
			err = registry.SetDynamic(crd.GetMetadata().GetName(), ss)
		}
		if err != nil {
			fmt.Fprintf(c.ErrOut, "Warning: custom resource definition %s: %v\n", crd.GetMetadata().GetName(), err)
		}
	}
	return nil
}

// KindOf resolves a resource type argument as LookupKind does; a name it
// does not know makes it load the custom resources (LoadCustomResources)
// and look again. A user who may not list the definitions gets the
// unknown resource error, as if there were none. A nil c only looks up.
func (c *CLI) KindOf(ctx context.Context, name string) (*scheme.Kind, error) {
	k, err := LookupKind(name)
	if err == nil || c == nil {
		return k, err
	}
	if lerr := c.LoadCustomResources(ctx); lerr != nil && !apierrors.IsForbidden(lerr) {
		return nil, lerr
	}
	return LookupKind(name)
}

// customCategory returns the storage kinds of the custom resources in
// category, by group and resource.
func customCategory(category string) []*scheme.Kind {
	var out []*scheme.Kind
	for _, s := range registry.Dynamic() {
		k := s.Info()
		if k.StorageKind() != k {
			continue
		}
		for _, cat := range s.Categories() {
			if strings.EqualFold(cat, category) {
				out = append(out, k)
				break
			}
		}
	}
	return out
}

// PreferredCustomKinds returns the preferred version of each custom
// resource this process knows (the highest served by Kubernetes' version
// order), by group and resource.
func PreferredCustomKinds() []*scheme.Kind {
	var out []*scheme.Kind
	for _, s := range registry.Dynamic() {
		if sv, ok := s.(interface{ Served() bool }); ok && !sv.Served() {
			continue
		}
		k := s.Info()
		if n := len(out); n > 0 && out[n-1].StorageKind() == k.StorageKind() {
			if version.CompareKubeAwareVersionStrings(k.Version, out[n-1].Version) > 0 {
				out[n-1] = k
			}
			continue
		}
		out = append(out, k)
	}
	return out
}
