package manifest

import (
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"

	"keel.dev/keel/pkg/scheme"
)

// Object is one decoded manifest document.
type Object struct {
	Kind    *scheme.Kind
	Message proto.Message
	Source  string // "FILE" or "FILE (document N)" for error messages
}

// Message types with a Kubernetes spelling other than a JSON object.
const (
	quantityName    protoreflect.FullName = "keel.meta.v1.Quantity"
	intOrStringName protoreflect.FullName = "keel.meta.v1.IntOrString"
	rawName         protoreflect.FullName = "keel.meta.v1.RawExtension"
	timestampName   protoreflect.FullName = "google.protobuf.Timestamp"
	durationName    protoreflect.FullName = "google.protobuf.Duration"
)

// Decode parses one file's bytes (YAML with --- separated documents, or
// JSON; a JSON or YAML "kind: List" with items is expanded) into objects.
// source names the file in errors. Empty documents are skipped and are not
// counted when numbering documents. Errors name the file, the document index
// (1-based) when there are several, and the field path, e.g.
//
//	deploy.yaml (document 2): spec.template.spec.containers[0].ports[0].containerPort: expected integer, got string "eighty"
//	web.yaml: spec.replica: unknown field
//	x.yaml: unknown kind "Deploymnt" for apiVersion "apps/v1"
//
// Every problem of every document is reported, as an ErrorList; on error no
// objects are returned. Objects of a List share the List document's Source.
//
// Decoding is strict: unknown fields, wrong JSON types, out-of-range
// numbers, duplicate keys and malformed timestamps or base64 are errors;
// null leaves a field unset. A quantity is kept as written: whether it
// parses is validation's to say, with every other problem of the object. A document nested deeper than 1000
// levels is refused before it is parsed, naming the line and column where it
// goes too deep; memory stays linear in the input.
func Decode(source string, data []byte) ([]Object, error) {
	docs, err := splitDocuments(data)
	if err != nil {
		return nil, ErrorList{{Source: source, Message: err.Error()}}
	}
	kept := docs[:0]
	for _, d := range docs {
		if d.value == nil && len(d.errs) == 0 {
			continue // empty document
		}
		kept = append(kept, d)
	}
	var (
		objs []Object
		errs ErrorList
	)
	for i, d := range kept {
		src := source
		if len(kept) > 1 {
			src = fmt.Sprintf("%s (document %d)", source, i+1)
		}
		if len(d.errs) > 0 {
			for _, e := range d.errs {
				e.Source = src
				errs = append(errs, e)
			}
			continue
		}
		o, es := decodeDocument(src, d.value)
		objs = append(objs, o...)
		errs = append(errs, es...)
	}
	if len(errs) > 0 {
		return nil, errs
	}
	return objs, nil
}

// DecodeInto decodes one JSON (or YAML) document into m, replacing its
// contents. apiVersion and kind are not required, but if m is a registered
// kind and they are present they must match it. Errors are an ErrorList
// without Source.
func DecodeInto(data []byte, m proto.Message) error {
	_, err := decodeInto(data, m, false)
	return err
}

// DecodeIntoLenient is DecodeInto leaving out unknown fields instead of
// failing on them: it returns their paths (sorted, depth first), as the
// Kubernetes apiserver does with fieldValidation Ignore or Warn. Every
// other problem is still an error.
func DecodeIntoLenient(data []byte, m proto.Message) (unknown []string, err error) {
	return decodeInto(data, m, true)
}

func decodeInto(data []byte, m proto.Message, lenient bool) ([]string, error) {
	// The kind is read before the reset: a dynamic kind's message says
	// which kind it is in fields the reset clears (New sets them).
	k, isKind := scheme.ByMessage(m)
	proto.Reset(m)
	if isKind {
		k.Stamp(m)
	}
	var doc document
	if isJSON(data) {
		doc = parseJSONDocument(data)
	} else {
		doc = parseYAML(data, 0)
	}
	if len(doc.errs) > 0 {
		return nil, ErrorList(doc.errs)
	}
	if doc.value == nil {
		return nil, ErrorList{{Message: "empty document"}}
	}
	obj, ok := doc.value.(map[string]any)
	if !ok {
		return nil, ErrorList{{Message: "expected object, got " + describe(doc.value)}}
	}
	d := &decoder{lenient: lenient}
	var skip func(string) bool
	if isKind {
		for _, f := range []struct{ key, want string }{{"apiVersion", k.APIVersion()}, {"kind", k.Kind}} {
			v, present := obj[f.key]
			if !present || v == nil {
				continue
			}
			s, ok := v.(string)
			switch {
			case !ok:
				d.fail(f.key, "expected string, got %s", describe(v))
			case s != f.want:
				d.fail(f.key, "expected %q, got %q", f.want, s)
			}
		}
		skip = isTypeMeta
	}
	d.fields("", obj, m.ProtoReflect(), skip)
	if len(d.errs) > 0 {
		return nil, ErrorList(d.errs)
	}
	return d.unknown, nil
}

func isTypeMeta(key string) bool { return key == "apiVersion" || key == "kind" }

// decodeDocument decodes one non-empty document: an object or a v1 List.
func decodeDocument(src string, v any) ([]Object, ErrorList) {
	obj, ok := v.(map[string]any)
	if !ok {
		return nil, ErrorList{{Source: src, Message: "expected object, got " + describe(v)}}
	}
	apiVersion, kind, errs := typeMeta(obj)
	if len(errs) > 0 {
		return nil, withSource(src, "", errs)
	}
	if apiVersion == "v1" && kind == "List" {
		return decodeList(src, obj)
	}
	o, errs := decodeObject("", obj, apiVersion, kind)
	if len(errs) > 0 {
		return nil, withSource(src, "", errs)
	}
	o.Source = src
	return []Object{o}, nil
}

// decodeList expands a v1 List: its items are decoded as documents of their
// own, with paths "items[N]...".
func decodeList(src string, obj map[string]any) ([]Object, ErrorList) {
	var (
		objs []Object
		errs ErrorList
	)
	for _, key := range sortedKeys(obj) {
		switch key {
		case "apiVersion", "kind":
		case "metadata": // ListMeta (resourceVersion, continue): nothing to keep
			if v := obj[key]; v != nil {
				if _, ok := v.(map[string]any); !ok {
					errs = append(errs, &Error{Source: src, Path: key, Message: "expected object, got " + describe(v)})
				}
			}
		case "items":
		default:
			errs = append(errs, &Error{Source: src, Path: key, Message: "unknown field"})
		}
	}
	var items []any
	if v := obj["items"]; v != nil {
		l, ok := v.([]any)
		if !ok {
			return nil, append(errs, &Error{Source: src, Path: "items", Message: "expected list, got " + describe(v)})
		}
		items = l
	}
	for i, it := range items {
		path := indexPath("items", i)
		item, ok := it.(map[string]any)
		if !ok {
			errs = append(errs, &Error{Source: src, Path: path, Message: "expected object, got " + describe(it)})
			continue
		}
		apiVersion, kind, es := typeMeta(item)
		if len(es) == 0 && kind == "List" {
			es = []*Error{{Message: "a List may not contain another List"}}
		}
		if len(es) > 0 {
			errs = append(errs, withSource(src, path, es)...)
			continue
		}
		o, es := decodeObject(path, item, apiVersion, kind)
		if len(es) > 0 {
			errs = append(errs, withSource(src, "", es)...)
			continue
		}
		o.Source = src
		objs = append(objs, o)
	}
	if len(errs) > 0 {
		return nil, errs
	}
	return objs, nil
}

// withSource sets the source of errs and prefixes their paths with prefix.
func withSource(src, prefix string, errs []*Error) ErrorList {
	for _, e := range errs {
		e.Source = src
		if prefix != "" {
			if e.Path == "" {
				e.Path = prefix
			} else {
				e.Path = prefix + "." + e.Path
			}
		}
	}
	return errs
}

// typeMeta reads apiVersion and kind, reporting each one that is missing or
// not a string.
func typeMeta(obj map[string]any) (apiVersion, kind string, errs []*Error) {
	get := func(key string) string {
		v, ok := obj[key]
		if !ok || v == nil {
			errs = append(errs, &Error{Message: key + " is missing"})
			return ""
		}
		s, ok := v.(string)
		if !ok {
			errs = append(errs, &Error{Path: key, Message: "expected string, got " + describe(v)})
			return ""
		}
		if s == "" {
			errs = append(errs, &Error{Message: key + " is missing"})
		}
		return s
	}
	apiVersion = get("apiVersion")
	kind = get("kind")
	return apiVersion, kind, errs
}

// decodeObject decodes one object of a registered kind; paths are prefixed
// with prefix ("" or "items[N]").
func decodeObject(prefix string, obj map[string]any, apiVersion, kind string) (Object, []*Error) {
	k, ok := scheme.ByGVK(apiVersion, kind)
	if !ok {
		return Object{}, []*Error{{Path: prefix, Message: unknownKind(apiVersion, kind), UnknownKind: true}}
	}
	m := k.New()
	d := &decoder{}
	d.fields(prefix, obj, m.ProtoReflect(), isTypeMeta)
	if len(d.errs) > 0 {
		return Object{}, d.errs
	}
	return Object{Kind: k, Message: m}, nil
}

// unknownKind words the error for an unregistered apiVersion/kind, with a
// hint when the kind exists under another apiVersion or spelling.
func unknownKind(apiVersion, kind string) string {
	msg := fmt.Sprintf("unknown kind %q for apiVersion %q", kind, apiVersion)
	var exact, folded []string
	for _, k := range scheme.All() {
		switch {
		case k.Kind == kind:
			exact = append(exact, k.APIVersion())
		case strings.EqualFold(k.Kind, kind):
			folded = append(folded, fmt.Sprintf("%s %s", k.APIVersion(), k.Kind))
		}
	}
	switch {
	case len(exact) > 0:
		msg += fmt.Sprintf(" (%s is served as apiVersion %s)", kind, strings.Join(exact, ", "))
	case len(folded) > 0:
		msg += fmt.Sprintf(" (did you mean %s?)", strings.Join(folded, ", "))
	}
	return msg
}

// ignoredFields are fields Kubernetes still declares but no longer uses,
// which manifests written for older versions carry: accepted and dropped,
// as Kubernetes drops them.
var ignoredFields = map[protoreflect.FullName]map[string]bool{
	// Never set since Kubernetes 1.20; kubectl get -o yaml of old
	// clusters wrote it into many saved manifests.
	"keel.meta.v1.ObjectMeta": {"selfLink": true},
}

// IgnoredFields are the JSON names of the fields of message name that
// decoding accepts and drops (see ignoredFields), sorted, for the OpenAPI
// schemas to declare them as Kubernetes' do.
func IgnoredFields(name protoreflect.FullName) []string {
	return slices.Sorted(maps.Keys(ignoredFields[name]))
}

// decoder converts generic JSON values into messages, collecting every
// problem rather than stopping at the first.
type decoder struct {
	errs []*Error
	// lenient: unknown fields are noted in unknown, not failed.
	lenient bool
	unknown []string
}

func (d *decoder) fail(path, format string, args ...any) {
	d.errs = append(d.errs, &Error{Path: path, Message: fmt.Sprintf(format, args...)})
}

// fields decodes the keys of obj into msg; skip (optional) names keys to
// ignore. Keys are visited in sorted order so errors are deterministic.
func (d *decoder) fields(path string, obj map[string]any, msg protoreflect.Message, skip func(string) bool) {
	byJSON := jsonFields(msg.Descriptor())
	var oneofs map[protoreflect.FullName]string
	for _, key := range sortedKeys(obj) {
		if skip != nil && skip(key) {
			continue
		}
		p := fieldPath(path, key)
		fd, ok := byJSON[key]
		if !ok && ignoredFields[msg.Descriptor().FullName()][key] {
			continue
		}
		if !ok {
			if inl := inlineField(msg.Descriptor()); inl != nil {
				d.inline(p, inl, key, obj[key], msg)
				continue
			}
			if d.lenient {
				d.unknown = append(d.unknown, p)
			} else {
				d.fail(p, "unknown field")
			}
			continue
		}
		v := obj[key]
		if v == nil {
			continue // null: leave unset
		}
		if od := fd.ContainingOneof(); od != nil && !od.IsSynthetic() {
			if prev, dup := oneofs[od.FullName()]; dup {
				d.fail(p, "may not be set together with %s", prev)
				continue
			}
			if oneofs == nil {
				oneofs = map[protoreflect.FullName]string{}
			}
			oneofs[od.FullName()] = key
		}
		switch {
		case fd.IsList():
			d.list(p, fd, v, msg)
		case fd.IsMap():
			d.mapField(p, fd, v, msg)
		default:
			val, ok := d.single(p, fd, v, func() protoreflect.Message { return msg.NewField(fd).Message() })
			if ok {
				msg.Set(fd, val)
			}
		}
	}
}

// inline decodes v, the member key of an object that no field of msg
// names, into msg's inline field.
func (d *decoder) inline(path string, fd protoreflect.FieldDescriptor, key string, v any, msg protoreflect.Message) {
	if v == nil {
		return // null: leave unset
	}
	m := msg.Mutable(fd).Map()
	val, ok := d.single(path, fd.MapValue(), v, func() protoreflect.Message { return m.NewValue().Message() })
	if ok {
		m.Set(protoreflect.ValueOfString(key).MapKey(), val)
	}
}

func (d *decoder) list(path string, fd protoreflect.FieldDescriptor, v any, msg protoreflect.Message) {
	items, ok := v.([]any)
	if !ok {
		d.fail(path, "expected list, got %s", describe(v))
		return
	}
	if len(items) == 0 {
		return
	}
	l := msg.NewField(fd).List()
	for i, it := range items {
		if it == nil { // as encoding/json: a null element is the zero value
			l.Append(zeroValue(l.NewElement()))
			continue
		}
		val, ok := d.single(indexPath(path, i), fd, it, func() protoreflect.Message { return l.NewElement().Message() })
		if ok {
			l.Append(val)
		}
	}
	msg.Set(fd, protoreflect.ValueOfList(l))
}

func (d *decoder) mapField(path string, fd protoreflect.FieldDescriptor, v any, msg protoreflect.Message) {
	obj, ok := v.(map[string]any)
	if !ok {
		d.fail(path, "expected object, got %s", describe(v))
		return
	}
	if len(obj) == 0 {
		return
	}
	m := msg.NewField(fd).Map()
	kd, vd := fd.MapKey(), fd.MapValue()
	for _, key := range sortedKeys(obj) {
		p := keyPath(path, key)
		mk, ok := mapKey(kd, key)
		if !ok {
			d.fail(p, "invalid map key %q: expected %s", key, TypeName(kd))
			continue
		}
		it := obj[key]
		if it == nil { // as encoding/json: a null value is the zero value
			m.Set(mk, zeroValue(m.NewValue()))
			continue
		}
		val, ok := d.single(p, vd, it, func() protoreflect.Message { return m.NewValue().Message() })
		if ok {
			m.Set(mk, val)
		}
	}
	msg.Set(fd, protoreflect.ValueOfMap(m))
}

// zeroValue is what a null list element or map value decodes to: v, a new
// element, as it is, except that a quantity is "0" as in Kubernetes (an
// empty quantity is not a valid one, so it would not decode back).
func zeroValue(v protoreflect.Value) protoreflect.Value {
	if m, ok := v.Interface().(protoreflect.Message); ok && m.Descriptor().FullName() == quantityName {
		m.Set(m.Descriptor().Fields().ByName("string"), protoreflect.ValueOfString("0"))
	}
	return v
}

func mapKey(kd protoreflect.FieldDescriptor, key string) (protoreflect.MapKey, bool) {
	switch kd.Kind() {
	case protoreflect.StringKind:
		return protoreflect.ValueOfString(key).MapKey(), true
	case protoreflect.BoolKind:
		b, err := strconv.ParseBool(key)
		return protoreflect.ValueOfBool(b).MapKey(), err == nil && (key == "true" || key == "false")
	case protoreflect.Int32Kind, protoreflect.Sint32Kind, protoreflect.Sfixed32Kind:
		n, err := strconv.ParseInt(key, 10, 32)
		return protoreflect.ValueOfInt32(int32(n)).MapKey(), err == nil
	case protoreflect.Int64Kind, protoreflect.Sint64Kind, protoreflect.Sfixed64Kind:
		n, err := strconv.ParseInt(key, 10, 64)
		return protoreflect.ValueOfInt64(n).MapKey(), err == nil
	case protoreflect.Uint32Kind, protoreflect.Fixed32Kind:
		n, err := strconv.ParseUint(key, 10, 32)
		return protoreflect.ValueOfUint32(uint32(n)).MapKey(), err == nil
	case protoreflect.Uint64Kind, protoreflect.Fixed64Kind:
		n, err := strconv.ParseUint(key, 10, 64)
		return protoreflect.ValueOfUint64(n).MapKey(), err == nil
	}
	return protoreflect.MapKey{}, false
}

// TypeName is the manifest-level (JSON) name of a field's type, for
// messages and keelctl explain: string, boolean, number, integer, or
// object for any message.
func TypeName(fd protoreflect.FieldDescriptor) string {
	switch fd.Kind() {
	case protoreflect.StringKind, protoreflect.BytesKind, protoreflect.EnumKind:
		return "string"
	case protoreflect.BoolKind:
		return "boolean"
	case protoreflect.FloatKind, protoreflect.DoubleKind:
		return "number"
	case protoreflect.MessageKind, protoreflect.GroupKind:
		return "object"
	default:
		return "integer"
	}
}

// single decodes one non-repeated value of fd's type (a singular field, a
// list element or a map value). newMsg makes the message for message types.
func (d *decoder) single(path string, fd protoreflect.FieldDescriptor, v any, newMsg func() protoreflect.Message) (protoreflect.Value, bool) {
	switch fd.Kind() {
	case protoreflect.StringKind:
		s, ok := v.(string)
		if !ok {
			d.fail(path, "expected string, got %s", describe(v))
			return protoreflect.Value{}, false
		}
		return protoreflect.ValueOfString(s), true
	case protoreflect.BoolKind:
		b, ok := v.(bool)
		if !ok {
			d.fail(path, "expected boolean, got %s", describe(v))
			return protoreflect.Value{}, false
		}
		return protoreflect.ValueOfBool(b), true
	case protoreflect.Int32Kind, protoreflect.Sint32Kind, protoreflect.Sfixed32Kind:
		n, ok := d.signed(path, v, 32, "int32")
		return protoreflect.ValueOfInt32(int32(n)), ok
	case protoreflect.Int64Kind, protoreflect.Sint64Kind, protoreflect.Sfixed64Kind:
		n, ok := d.signed(path, v, 64, "int64")
		return protoreflect.ValueOfInt64(n), ok
	case protoreflect.Uint32Kind, protoreflect.Fixed32Kind:
		n, ok := d.unsigned(path, v, 32, "uint32")
		return protoreflect.ValueOfUint32(uint32(n)), ok
	case protoreflect.Uint64Kind, protoreflect.Fixed64Kind:
		n, ok := d.unsigned(path, v, 64, "uint64")
		return protoreflect.ValueOfUint64(n), ok
	case protoreflect.FloatKind, protoreflect.DoubleKind:
		n, isNum := v.(json.Number)
		if !isNum {
			d.fail(path, "expected number, got %s", describe(v))
			return protoreflect.Value{}, false
		}
		bits := 64
		if fd.Kind() == protoreflect.FloatKind {
			bits = 32
		}
		f, err := strconv.ParseFloat(string(n), bits)
		if err != nil {
			d.fail(path, "number %s is out of range for float%d", n, bits)
			return protoreflect.Value{}, false
		}
		if bits == 32 {
			return protoreflect.ValueOfFloat32(float32(f)), true
		}
		return protoreflect.ValueOfFloat64(f), true
	case protoreflect.EnumKind:
		s, ok := v.(string)
		if !ok {
			d.fail(path, "expected string, got %s", describe(v))
			return protoreflect.Value{}, false
		}
		ev := fd.Enum().Values().ByName(protoreflect.Name(s))
		if ev == nil {
			d.fail(path, "unsupported value %q: must be one of %s", s, enumNames(fd.Enum()))
			return protoreflect.Value{}, false
		}
		return protoreflect.ValueOfEnum(ev.Number()), true
	case protoreflect.BytesKind:
		s, ok := v.(string)
		if !ok {
			d.fail(path, "expected base64 string, got %s", describe(v))
			return protoreflect.Value{}, false
		}
		b, err := base64.StdEncoding.DecodeString(s)
		if err != nil {
			d.fail(path, "invalid base64: %v", err)
			return protoreflect.Value{}, false
		}
		return protoreflect.ValueOfBytes(b), true
	case protoreflect.MessageKind, protoreflect.GroupKind:
		m := newMsg()
		ok := d.message(path, v, m)
		return protoreflect.ValueOfMessage(m), ok
	}
	d.fail(path, "unsupported field type %s", fd.Kind())
	return protoreflect.Value{}, false
}

func enumNames(ed protoreflect.EnumDescriptor) string {
	vals := ed.Values()
	names := make([]string, vals.Len())
	for i := range names {
		names[i] = string(vals.Get(i).Name())
	}
	return strings.Join(names, ", ")
}

// signed parses an integer of the given bit size.
func (d *decoder) signed(path string, v any, bits int, typ string) (int64, bool) {
	n, isNum := v.(json.Number)
	if !isNum {
		d.fail(path, "expected integer, got %s", describe(v))
		return 0, false
	}
	i, err := strconv.ParseInt(string(n), 10, bits)
	if err != nil {
		if errors.Is(err, strconv.ErrRange) {
			d.fail(path, "number %s is out of range for %s", n, typ)
		} else {
			d.fail(path, "expected integer, got number %s", n)
		}
		return 0, false
	}
	return i, true
}

// unsigned parses a non-negative integer of the given bit size.
func (d *decoder) unsigned(path string, v any, bits int, typ string) (uint64, bool) {
	n, isNum := v.(json.Number)
	if !isNum {
		d.fail(path, "expected integer, got %s", describe(v))
		return 0, false
	}
	u, err := strconv.ParseUint(string(n), 10, bits)
	if err != nil {
		// A negative integer is out of range too, not a type error.
		_, serr := strconv.ParseInt(string(n), 10, 64)
		integer := serr == nil || errors.Is(serr, strconv.ErrRange)
		if integer || errors.Is(err, strconv.ErrRange) {
			d.fail(path, "number %s is out of range for %s", n, typ)
		} else {
			d.fail(path, "expected integer, got number %s", n)
		}
		return 0, false
	}
	return u, true
}

// message decodes v into m: a JSON object, or the scalar spelling of the
// special value types.
func (d *decoder) message(path string, v any, m protoreflect.Message) bool {
	desc := m.Descriptor()
	switch desc.FullName() {
	case quantityName:
		var s string
		switch x := v.(type) {
		case string:
			s = x
		case json.Number:
			s = string(x)
		default:
			d.fail(path, "expected quantity (string or number), got %s", describe(v))
			return false
		}
		// Kept as written, even when it does not parse: the apiserver's
		// validation refuses a malformed quantity with its field path
		// together with every other problem of the object, rather than
		// the decoder hiding those behind this one.
		m.Set(desc.Fields().ByName("string"), protoreflect.ValueOfString(s))
		return true
	case intOrStringName:
		f := desc.Fields()
		switch x := v.(type) {
		case string:
			m.Set(f.ByName("type"), protoreflect.ValueOfInt32(1))
			m.Set(f.ByName("str_val"), protoreflect.ValueOfString(x))
			return true
		case json.Number:
			i, err := strconv.ParseInt(string(x), 10, 32)
			if err != nil {
				if errors.Is(err, strconv.ErrRange) {
					d.fail(path, "number %s is out of range for int32", x)
				} else {
					d.fail(path, "expected integer or string, got number %s", x)
				}
				return false
			}
			m.Set(f.ByName("int_val"), protoreflect.ValueOfInt32(int32(i)))
			return true
		}
		d.fail(path, "expected integer or string, got %s", describe(v))
		return false
	case rawName:
		raw, err := json.Marshal(v)
		if err != nil {
			d.fail(path, "expected an embedded object: %v", err)
			return false
		}
		m.Set(desc.Fields().ByName("raw"), protoreflect.ValueOfBytes(raw))
		return true
	case timestampName:
		s, ok := v.(string)
		if !ok {
			d.fail(path, "expected timestamp string, got %s", describe(v))
			return false
		}
		t, err := time.Parse(time.RFC3339, s)
		if err != nil {
			d.fail(path, "invalid timestamp %q: expected RFC 3339 such as \"2006-01-02T15:04:05Z\"", s)
			return false
		}
		f := desc.Fields()
		m.Set(f.ByName("seconds"), protoreflect.ValueOfInt64(t.Unix()))
		m.Set(f.ByName("nanos"), protoreflect.ValueOfInt32(int32(t.Nanosecond())))
		return true
	case durationName:
		s, ok := v.(string)
		if !ok {
			d.fail(path, "expected duration string, got %s", describe(v))
			return false
		}
		dur, err := time.ParseDuration(s)
		if err != nil {
			d.fail(path, "invalid duration %q: expected a duration such as \"1m30s\"", s)
			return false
		}
		f := desc.Fields()
		m.Set(f.ByName("seconds"), protoreflect.ValueOfInt64(int64(dur/time.Second)))
		m.Set(f.ByName("nanos"), protoreflect.ValueOfInt32(int32(dur%time.Second)))
		return true
	}
	obj, ok := v.(map[string]any)
	if !ok {
		d.fail(path, "expected object, got %s", describe(v))
		return false
	}
	n := len(d.errs)
	d.fields(path, obj, m, nil)
	return len(d.errs) == n
}

// jsonFields maps a message's JSON field names to its fields; cached per
// descriptor (descriptors are immutable).
func jsonFields(md protoreflect.MessageDescriptor) map[string]protoreflect.FieldDescriptor {
	if m, ok := fieldCache.Load(md); ok {
		return m.(map[string]protoreflect.FieldDescriptor)
	}
	fields := md.Fields()
	m := make(map[string]protoreflect.FieldDescriptor, fields.Len())
	inl := inlineField(md)
	for i := 0; i < fields.Len(); i++ {
		fd := fields.Get(i)
		if fd == inl {
			continue // its entries are members of the object itself
		}
		m[fd.JSONName()] = fd
	}
	fieldCache.Store(md, m)
	return m
}

// inlineField is md's field holding the members of its JSON object that
// no other field names — a map<string, keel.meta.v1.RawExtension> field
// named inline — or nil if md has none. Such members decode into it (so
// none of them is unknown), and its entries encode as members of the
// object, never under its own name.
func inlineField(md protoreflect.MessageDescriptor) protoreflect.FieldDescriptor {
	fd := md.Fields().ByName("inline")
	if fd == nil || !fd.IsMap() || fd.MapKey().Kind() != protoreflect.StringKind ||
		fd.MapValue().Message() == nil || fd.MapValue().Message().FullName() != rawName {
		return nil
	}
	return fd
}

var fieldCache sync.Map // protoreflect.MessageDescriptor → map[string]protoreflect.FieldDescriptor

func sortedKeys(m map[string]any) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}
