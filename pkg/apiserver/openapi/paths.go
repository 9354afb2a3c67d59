package openapi

import (
	"strings"

	"google.golang.org/protobuf/reflect/protoreflect"

	metav1 "keel.dev/keel/pkg/apis/meta/v1"
	"keel.dev/keel/pkg/apiserver/rest"
	"keel.dev/keel/pkg/registry"
)

// path is one URL path of the REST API and its operations, in neither
// document's form yet.
type path struct {
	path string
	// params are the path's own parameters: {namespace}, {name}, pretty.
	params []param
	ops    []operation
}

// operation is one method on a path.
type operation struct {
	method      string // get, put, post, delete, patch
	id          string // operationId, as Kubernetes spells it
	tag         string // the group version's tag ("apps_v1")
	action      string // x-kubernetes-action
	description string
	// group, version and kind of x-kubernetes-group-version-kind.
	group, version, kind string
	// body is the definition of the request body ("" for none).
	body      string
	patch     bool // the body is a patch, in one of the patch types
	query     []param
	responses map[int]string // status code → definition of the answer
	watch     bool           // may answer with a watch stream
	text      bool           // answers with plain text (a string)
}

type param struct {
	name, in, typ, description string
	required, unique           bool
}

// The query parameters of Kubernetes' operations.
var (
	pPretty               = param{name: "pretty", in: "query", typ: "string", description: "If 'true', the output is pretty printed.", unique: true}
	pDryRun               = param{name: "dryRun", in: "query", typ: "string", description: "When present (All), the request is validated and answered but nothing is stored.", unique: true}
	pFieldManager         = param{name: "fieldManager", in: "query", typ: "string", description: "The name of the actor making the change, for managedFields.", unique: true}
	pFieldValidation      = param{name: "fieldValidation", in: "query", typ: "string", description: "What to do with unknown or duplicate fields: Ignore, Warn or Strict.", unique: true}
	pForce                = param{name: "force", in: "query", typ: "boolean", description: "Apply only: take the fields other managers own.", unique: true}
	pLabelSelector        = param{name: "labelSelector", in: "query", typ: "string", description: "Only objects whose labels match this selector.", unique: true}
	pFieldSelector        = param{name: "fieldSelector", in: "query", typ: "string", description: "Only objects whose fields match this selector.", unique: true}
	pLimit                = param{name: "limit", in: "query", typ: "integer", description: "The most objects to return; the rest is fetched with continue.", unique: true}
	pContinue             = param{name: "continue", in: "query", typ: "string", description: "The continue token of the previous page.", unique: true}
	pResourceVersion      = param{name: "resourceVersion", in: "query", typ: "string", description: "What the result must be at least as new as (list), or the version to watch from.", unique: true}
	pResourceVersionMatch = param{name: "resourceVersionMatch", in: "query", typ: "string", description: "How resourceVersion applies to a list: NotOlderThan or Exact.", unique: true}
	pTimeoutSeconds       = param{name: "timeoutSeconds", in: "query", typ: "integer", description: "How long a list or watch call may last.", unique: true}
	pWatch                = param{name: "watch", in: "query", typ: "boolean", description: "Watch for changes and answer with a stream of events.", unique: true}
	pBookmarks            = param{name: "allowWatchBookmarks", in: "query", typ: "boolean", description: "Ask for BOOKMARK events in a watch.", unique: true}
	pInitialEvents        = param{name: "sendInitialEvents", in: "query", typ: "boolean", description: "Start a watch with the objects as they are, then a bookmark.", unique: true}
	pGracePeriod          = param{name: "gracePeriodSeconds", in: "query", typ: "integer", description: "Seconds before the object is deleted; 0 deletes at once.", unique: true}
	pPropagation          = param{name: "propagationPolicy", in: "query", typ: "string", description: "What happens to the dependents: Orphan, Background or Foreground.", unique: true}
	pOrphan               = param{name: "orphanDependents", in: "query", typ: "boolean", description: "Deprecated: use propagationPolicy.", unique: true}

	listQuery = []param{pBookmarks, pContinue, pFieldSelector, pLabelSelector, pLimit, pResourceVersion, pResourceVersionMatch, pInitialEvents, pTimeoutSeconds, pWatch}
	logQuery  = []param{
		{name: "container", in: "query", typ: "string", description: "The container whose log to read; may be left out when the pod has one.", unique: true},
		{name: "follow", in: "query", typ: "boolean", description: "Stream the log as it grows.", unique: true},
		{name: "limitBytes", in: "query", typ: "integer", description: "The most bytes of log to return.", unique: true},
		{name: "previous", in: "query", typ: "boolean", description: "The log of the container's previous run.", unique: true},
		{name: "sinceSeconds", in: "query", typ: "integer", description: "Only the lines of the last seconds.", unique: true},
		{name: "tailLines", in: "query", typ: "integer", description: "Only the last lines.", unique: true},
		{name: "timestamps", in: "query", typ: "boolean", description: "Begin each line with its RFC 3339 timestamp.", unique: true},
	}
	writeQuery  = []param{pDryRun, pFieldManager, pFieldValidation}
	patchQuery  = []param{pDryRun, pFieldManager, pFieldValidation, pForce}
	deleteQuery = []param{pDryRun, pGracePeriod, pOrphan, pPropagation}
)

func pathParam(name, description string) param {
	return param{name: name, in: "path", typ: "string", description: description, required: true, unique: true}
}

var (
	pNamespace = pathParam("namespace", "object name and auth scope, such as for teams and projects")
	pName      = func(kind string) param { return pathParam("name", "name of the "+kind) }
)

// groupPath is the root of a group version's paths: "/api/v1",
// "/apis/apps/v1".
func groupPath(group, version string) string {
	if group == "" {
		return "/api/" + version
	}
	return "/apis/" + group + "/" + version
}

// operationGroup is how operationIds and tags name a group version:
// "CoreV1", "RbacAuthorizationV1" (tags: "core_v1", "rbacAuthorization_v1").
func operationGroup(group, version string) (id, tag string) {
	if group == "" {
		group = "core"
	}
	parts := strings.Split(strings.TrimSuffix(group, ".k8s.io"), ".")
	for i, p := range parts {
		id += strings.ToUpper(p[:1]) + p[1:]
		if i == 0 {
			tag += p
		} else {
			tag += strings.ToUpper(p[:1]) + p[1:]
		}
	}
	return id + strings.ToUpper(version[:1]) + version[1:], tag + "_" + version
}

// kindPaths are the paths of one kind, as Kubernetes lays them out: the
// collection (in a namespace, and across namespaces for a namespaced
// kind), the object, its status and scale subresources and those of subs
// that are the kind's.
func kindPaths(s registry.Strategy, subs []rest.Subresource, defs *schemas) []path {
	k := s.Info()
	def := defs.message(k.Message.ProtoReflect().Descriptor())
	gid, tag := operationGroup(k.Group, k.Version)
	root := groupPath(k.Group, k.Version)
	scope, coll := "", root+"/"+k.Resource
	params := []param{pPretty}
	if k.Namespaced {
		scope, coll = "Namespaced", root+"/namespaces/{namespace}/"+k.Resource
		params = []param{pNamespace, pPretty}
	}
	op := func(method, verb, suffix, action, description string) operation {
		return operation{method: method, id: verb + gid + scope + k.Kind + suffix, tag: tag, action: action, description: description,
			group: k.Group, version: k.Version, kind: k.Kind}
	}
	create := op("post", "create", "", "post", "create a "+k.Kind)
	create.body, create.query = def, writeQuery
	create.responses = map[int]string{200: def, 201: def, 202: def}
	if k.CreateOnly {
		return []path{{path: coll, params: params, ops: []operation{create}}}
	}
	list := op("get", "list", "", "list", "list or watch objects of kind "+k.Kind)
	list.query, list.responses, list.watch = listQuery, map[int]string{200: def + "List"}, true
	if k.Computed { // get and list only
		list.description, list.watch = "list objects of kind "+k.Kind, false
		read := op("get", "read", "", "get", "read the specified "+k.Kind)
		read.responses = map[int]string{200: def}
		out := []path{{path: coll, params: params, ops: []operation{list}},
			{path: coll + "/{name}", params: append([]param{pName(k.Kind)}, params...), ops: []operation{read}}}
		if k.Namespaced {
			all := op("get", "list", "ForAllNamespaces", "list", "list objects of kind "+k.Kind)
			all.id = "list" + gid + k.Kind + "ForAllNamespaces"
			all.query, all.responses = listQuery, list.responses
			out = append(out, path{path: root + "/" + k.Resource, params: []param{pPretty}, ops: []operation{all}})
		}
		return out
	}
	delColl := op("delete", "delete", "", "deletecollection", "delete collection of "+k.Kind)
	delColl.id = "delete" + gid + "Collection" + scope + k.Kind
	delColl.body = defs.message((&metav1.DeleteOptions{}).ProtoReflect().Descriptor())
	delColl.query = append(append([]param(nil), listQuery[1:len(listQuery)-1]...), deleteQuery...) // no bookmarks, no watch
	delColl.responses = map[int]string{200: statusName}
	out := []path{{path: coll, params: params, ops: []operation{list, create, delColl}}}
	if k.Namespaced {
		all := op("get", "list", "ForAllNamespaces", "list", "list or watch objects of kind "+k.Kind)
		all.id = "list" + gid + k.Kind + "ForAllNamespaces"
		all.query, all.responses, all.watch = listQuery, list.responses, true
		out = append(out, path{path: root + "/" + k.Resource, params: []param{pPretty}, ops: []operation{all}})
	}

	item := coll + "/{name}"
	itemParams := append([]param{pName(k.Kind)}, params...)
	read := op("get", "read", "", "get", "read the specified "+k.Kind)
	read.responses = map[int]string{200: def}
	replace := op("put", "replace", "", "put", "replace the specified "+k.Kind)
	replace.body, replace.query, replace.responses = def, writeQuery, map[int]string{200: def, 201: def}
	patch := op("patch", "patch", "", "patch", "partially update the specified "+k.Kind)
	patch.body, patch.patch, patch.query, patch.responses = patchName, true, patchQuery, map[int]string{200: def, 201: def}
	del := op("delete", "delete", "", "delete", "delete a "+k.Kind)
	del.body, del.query, del.responses = delColl.body, deleteQuery, map[int]string{200: def, 202: def}
	out = append(out, path{path: item, params: itemParams, ops: []operation{read, replace, patch, del}})

	sub := func(name, suffix, body string, group, version, kind string) {
		ops := make([]operation, 0, 3)
		for _, o := range []struct{ method, verb, action, what string }{
			{"get", "read", "get", "read " + name + " of"},
			{"put", "replace", "put", "replace " + name + " of"},
			{"patch", "patch", "patch", "partially update " + name + " of"},
		} {
			x := op(o.method, o.verb, suffix, o.action, o.what+" the specified "+k.Kind)
			x.group, x.version, x.kind = group, version, kind
			x.responses = map[int]string{200: body}
			switch o.verb {
			case "replace":
				x.body, x.query, x.responses[201] = body, writeQuery, body
			case "patch":
				x.body, x.patch, x.query, x.responses[201] = patchName, true, patchQuery, body
			}
			ops = append(ops, x)
		}
		out = append(out, path{path: item + "/" + name, params: itemParams, ops: ops})
	}
	if s.HasStatus() {
		sub("status", "Status", def, k.Group, k.Version, k.Kind)
	}
	if s.Scale() != nil {
		sub("scale", "Scale", scaleName, "autoscaling", "v1", "Scale")
	}
	for _, x := range subs {
		if x.Resource != k.Resource {
			continue
		}
		suffix := strings.ToUpper(x.Name[:1]) + x.Name[1:]
		body := defs.subresourceKind(x)
		p := path{path: item + "/" + x.Name, params: itemParams}
		for _, verb := range x.Verbs {
			var o operation
			switch verb {
			case "create":
				o = op("post", "create", suffix, "post", "create "+x.Name+" of a "+k.Kind)
				o.body, o.query, o.responses = body, writeQuery, map[int]string{200: body, 201: body, 202: body}
			case "get":
				o = op("get", "read", suffix, "get", "read "+x.Name+" of the specified "+k.Kind)
				o.responses = map[int]string{200: body}
				if x.Name == "log" {
					o.query, o.responses, o.text = logQuery, map[int]string{200: ""}, true
				}
			case "update":
				o = op("put", "replace", suffix, "put", "replace "+x.Name+" of the specified "+k.Kind)
				o.body, o.query, o.responses = body, writeQuery, map[int]string{200: body, 201: body}
			case "patch":
				o = op("patch", "patch", suffix, "patch", "partially update "+x.Name+" of the specified "+k.Kind)
				o.body, o.patch, o.query, o.responses = patchName, true, patchQuery, map[int]string{200: body, 201: body}
			default:
				continue
			}
			o.group, o.version, o.kind = x.Group, x.Version, x.Kind
			p.ops = append(p.ops, o)
		}
		out = append(out, p)
	}
	return out
}

// metaMessage is ObjectMeta's descriptor.
func metaMessage() protoreflect.MessageDescriptor {
	return (&metav1.ObjectMeta{}).ProtoReflect().Descriptor()
}

// kindsOf groups the registered strategies by "group/version" path key of
// the OpenAPI v3 index ("api/v1", "apis/apps/v1").
func kindsOf(all []registry.Strategy) map[string][]registry.Strategy {
	out := map[string][]registry.Strategy{}
	for _, s := range all {
		k := s.Info()
		key := strings.TrimPrefix(groupPath(k.Group, k.Version), "/")
		out[key] = append(out[key], s)
	}
	return out
}
