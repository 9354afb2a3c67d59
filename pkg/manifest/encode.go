package manifest

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"math"
	"sort"
	"time"

	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"
	"sigs.k8s.io/yaml"

	"keel.dev/keel/pkg/scheme"
)

// ToMap converts a message to the generic Kubernetes-form map: apiVersion
// and kind (for a registered kind), then every populated field under its
// JSON name. Unset and empty fields are left out (a proto3 optional field
// that is set appears even when zero; a set message field appears even when
// empty, as {}). Values are string, bool, int64, uint64, float64, []any and
// map[string]any: quantities as strings, int-or-string as int64 or string,
// timestamps as RFC 3339 UTC with seconds precision
// ("2006-01-02T15:04:05Z"; with microseconds for the fields Kubernetes
// declares as MicroTime, such as a Lease's renewTime), durations as Go
// duration strings, bytes as base64, enums by name.
func ToMap(m proto.Message) (map[string]any, error) {
	out, err := messageMap(m.ProtoReflect())
	if err != nil {
		return nil, err
	}
	if k, ok := scheme.ByMessage(m); ok {
		out["apiVersion"] = k.APIVersion()
		out["kind"] = k.Kind
	}
	return out, nil
}

// topOrder is the order of well-known top-level keys in rendered manifests;
// other keys follow, sorted.
var topOrder = []string{"apiVersion", "kind", "metadata", "spec", "status"}

// orderedKeys returns the keys of a top-level map in rendering order.
func orderedKeys(obj map[string]any) []string {
	keys := make([]string, 0, len(obj))
	seen := map[string]bool{}
	for _, k := range topOrder {
		if _, ok := obj[k]; ok {
			keys = append(keys, k)
			seen[k] = true
		}
	}
	var rest []string
	for k := range obj {
		if !seen[k] {
			rest = append(rest, k)
		}
	}
	sort.Strings(rest)
	return append(keys, rest...)
}

// MarshalYAML renders a message as a Kubernetes-form YAML document (no
// leading "---"): apiVersion, kind, metadata, spec, status first at the top
// level, keys otherwise sorted.
func MarshalYAML(m proto.Message) ([]byte, error) {
	obj, err := ToMap(m)
	if err != nil {
		return nil, err
	}
	var buf bytes.Buffer
	for _, k := range orderedKeys(obj) {
		// Each top-level key is rendered as a one-key mapping; concatenated
		// they form the document with the keys in our order.
		b, err := yaml.Marshal(map[string]any{k: obj[k]})
		if err != nil {
			return nil, fmt.Errorf("manifest: rendering %s: %w", k, err)
		}
		buf.Write(b)
	}
	return buf.Bytes(), nil
}

// MarshalJSON renders a message as Kubernetes-form JSON indented by 4
// spaces, with a trailing newline, top-level keys ordered as in MarshalYAML.
func MarshalJSON(m proto.Message) ([]byte, error) {
	obj, err := ToMap(m)
	if err != nil {
		return nil, err
	}
	keys := orderedKeys(obj)
	var buf bytes.Buffer
	if len(keys) == 0 {
		buf.WriteString("{}\n")
		return buf.Bytes(), nil
	}
	buf.WriteString("{\n")
	for i, k := range keys {
		buf.WriteString("    ")
		if err := writeJSON(&buf, k, ""); err != nil {
			return nil, err
		}
		buf.WriteString(": ")
		if err := writeJSON(&buf, obj[k], "    "); err != nil {
			return nil, fmt.Errorf("manifest: rendering %s: %w", k, err)
		}
		if i < len(keys)-1 {
			buf.WriteByte(',')
		}
		buf.WriteByte('\n')
	}
	buf.WriteString("}\n")
	return buf.Bytes(), nil
}

// writeJSON writes v indented by 4 spaces after prefix, without HTML
// escaping and without a trailing newline.
func writeJSON(buf *bytes.Buffer, v any, prefix string) error {
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	enc.SetIndent(prefix, "    ")
	if err := enc.Encode(v); err != nil {
		return err
	}
	buf.Write(bytes.TrimSuffix(b.Bytes(), []byte("\n")))
	return nil
}

// messageMap converts the populated fields of m to a map keyed by JSON
// name. Nested values go through singleValue, so the special value types
// get their scalar spelling.
func messageMap(m protoreflect.Message) (map[string]any, error) {
	out := map[string]any{}
	inlined := map[string]any{} // the inline field's members
	var err error
	m.Range(func(fd protoreflect.FieldDescriptor, v protoreflect.Value) bool {
		var x any
		switch {
		case fd.IsList():
			l := v.List()
			if l.Len() == 0 {
				return true
			}
			items := make([]any, l.Len())
			for i := range items {
				if items[i], err = singleValue(fd, l.Get(i)); err != nil {
					err = fmt.Errorf("%s[%d]: %w", fd.JSONName(), i, err)
					return false
				}
			}
			x = items
		case fd.IsMap() && fd == inlineField(m.Descriptor()):
			v.Map().Range(func(k protoreflect.MapKey, mv protoreflect.Value) bool {
				key := k.String()
				if _, named := jsonFields(m.Descriptor())[key]; named {
					return true // a field's own member wins
				}
				if inlined[key], err = singleValue(fd.MapValue(), mv); err != nil {
					err = fmt.Errorf("%s: %w", key, err)
					return false
				}
				return true
			})
			return err == nil
		case fd.IsMap():
			mp := v.Map()
			if mp.Len() == 0 {
				return true
			}
			obj := make(map[string]any, mp.Len())
			mp.Range(func(k protoreflect.MapKey, mv protoreflect.Value) bool {
				key := k.String()
				if obj[key], err = singleValue(fd.MapValue(), mv); err != nil {
					err = fmt.Errorf("%s[%s]: %w", fd.JSONName(), key, err)
					return false
				}
				return true
			})
			if err != nil {
				return false
			}
			x = obj
		default:
			if x, err = singleValue(fd, v); err != nil {
				err = fmt.Errorf("%s: %w", fd.JSONName(), err)
				return false
			}
		}
		out[fd.JSONName()] = x
		return true
	})
	if err != nil {
		return nil, err
	}
	for k, v := range inlined {
		if _, named := out[k]; !named {
			out[k] = v
		}
	}
	return out, nil
}

// singleValue converts one non-repeated value of fd's type.
func singleValue(fd protoreflect.FieldDescriptor, v protoreflect.Value) (any, error) {
	switch fd.Kind() {
	case protoreflect.StringKind:
		return v.String(), nil
	case protoreflect.BoolKind:
		return v.Bool(), nil
	case protoreflect.Int32Kind, protoreflect.Sint32Kind, protoreflect.Sfixed32Kind,
		protoreflect.Int64Kind, protoreflect.Sint64Kind, protoreflect.Sfixed64Kind:
		return v.Int(), nil
	case protoreflect.Uint32Kind, protoreflect.Fixed32Kind,
		protoreflect.Uint64Kind, protoreflect.Fixed64Kind:
		return v.Uint(), nil
	case protoreflect.FloatKind, protoreflect.DoubleKind:
		f := v.Float()
		if math.IsNaN(f) || math.IsInf(f, 0) {
			return nil, fmt.Errorf("%v cannot be written in a manifest", f)
		}
		return f, nil
	case protoreflect.EnumKind:
		ev := fd.Enum().Values().ByNumber(v.Enum())
		if ev == nil {
			return nil, fmt.Errorf("enum value %d has no name", v.Enum())
		}
		return string(ev.Name()), nil
	case protoreflect.BytesKind:
		return base64.StdEncoding.EncodeToString(v.Bytes()), nil
	case protoreflect.MessageKind, protoreflect.GroupKind:
		if microTimeFields[fd.FullName()] {
			return timeOf(v.Message()).Format(microTimeLayout), nil
		}
		return messageValue(v.Message())
	}
	return nil, fmt.Errorf("unsupported field type %s", fd.Kind())
}

// timeOf is the time, in UTC, of a google.protobuf.Timestamp.
func timeOf(m protoreflect.Message) time.Time {
	f := m.Descriptor().Fields()
	return time.Unix(m.Get(f.ByName("seconds")).Int(), m.Get(f.ByName("nanos")).Int()).UTC()
}

// microTimeLayout is how Kubernetes writes a MicroTime (and how its
// clients insist on reading one): RFC 3339 with exactly six fractional
// digits.
const microTimeLayout = "2006-01-02T15:04:05.000000Z07:00"

// microTimeFields are the timestamps Kubernetes declares as MicroTime
// rather than Time: they are written with microseconds.
var microTimeFields = map[protoreflect.FullName]bool{
	"keel.coordination.v1.LeaseSpec.acquire_time": true,
	"keel.coordination.v1.LeaseSpec.renew_time":   true,
	"keel.core.v1.Event.event_time":               true,
	"keel.core.v1.EventSeries.last_observed_time": true,
}

// messageValue converts a message: the special value types to their scalar
// spelling, anything else to a map.
func messageValue(m protoreflect.Message) (any, error) {
	desc := m.Descriptor()
	f := desc.Fields()
	switch desc.FullName() {
	case quantityName:
		return m.Get(f.ByName("string")).String(), nil
	case intOrStringName:
		switch t := m.Get(f.ByName("type")).Int(); t {
		case 0:
			return m.Get(f.ByName("int_val")).Int(), nil
		case 1:
			return m.Get(f.ByName("str_val")).String(), nil
		default:
			return nil, fmt.Errorf("int-or-string has unknown type %d", t)
		}
	case rawName:
		raw := m.Get(f.ByName("raw")).Bytes()
		if len(raw) == 0 {
			return nil, nil
		}
		dec := json.NewDecoder(bytes.NewReader(raw))
		dec.UseNumber()
		var v any
		if err := dec.Decode(&v); err != nil {
			return nil, fmt.Errorf("embedded object: %w", err)
		}
		return v, nil
	case timestampName:
		return timeOf(m).Format("2006-01-02T15:04:05Z"), nil
	case durationName:
		sec, nsec := m.Get(f.ByName("seconds")).Int(), m.Get(f.ByName("nanos")).Int()
		return (time.Duration(sec)*time.Second + time.Duration(nsec)).String(), nil
	}
	return messageMap(m)
}
