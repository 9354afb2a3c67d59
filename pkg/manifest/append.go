package manifest

import (
	"bytes"
	"cmp"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"math"
	"slices"
	"strconv"
	"time"
	"unicode/utf8"

	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"

	"keel.dev/keel/pkg/scheme"
)

// AppendJSON appends m's compact Kubernetes-form JSON to dst: the same
// object ToMap describes (apiVersion and kind of a registered kind first,
// then the populated fields in declaration order, map keys sorted), written
// straight from the message without building the map. It is the encoder of
// the hot paths (REST answers, lists and watch events); ToMap stays the
// form to edit.
func AppendJSON(dst []byte, m proto.Message) ([]byte, error) {
	dst = append(dst, '{')
	first, typed := true, false
	if k, ok := scheme.ByMessage(m); ok {
		dst = append(dst, `"apiVersion":`...)
		dst = appendString(dst, k.APIVersion())
		dst = append(dst, `,"kind":`...)
		dst = appendString(dst, k.Kind)
		first, typed = false, true
	}
	dst, err := appendFields(dst, m.ProtoReflect(), first, typed)
	if err != nil {
		return nil, err
	}
	return append(dst, '}'), nil
}

// appendFields appends m's populated fields as "name":value members,
// each preceded by a comma unless first; typed leaves out fields named
// apiVersion and kind, already written (as ToMap's map overwrites them).
func appendFields(dst []byte, m protoreflect.Message, first, typed bool) ([]byte, error) {
	var err error
	m.Range(func(fd protoreflect.FieldDescriptor, v protoreflect.Value) bool {
		switch {
		case fd.IsList() && v.List().Len() == 0, fd.IsMap() && v.Map().Len() == 0:
			return true
		case typed && (fd.JSONName() == "apiVersion" || fd.JSONName() == "kind"):
			return true
		case fd.IsMap() && fd.Name() == "inline" && fd == inlineField(m.Descriptor()):
			dst, first, err = appendInline(dst, m.Descriptor(), fd, v.Map(), first)
			return err == nil
		}
		if !first {
			dst = append(dst, ',')
		}
		first = false
		dst = appendString(dst, fd.JSONName())
		dst = append(dst, ':')
		switch {
		case fd.IsList():
			l := v.List()
			dst = append(dst, '[')
			for i := range l.Len() {
				if i > 0 {
					dst = append(dst, ',')
				}
				if dst, err = appendSingle(dst, fd, l.Get(i)); err != nil {
					err = fmt.Errorf("%s[%d]: %w", fd.JSONName(), i, err)
					return false
				}
			}
			dst = append(dst, ']')
		case fd.IsMap():
			dst, err = appendMap(dst, fd, v.Map())
			if err != nil {
				return false
			}
		default:
			if dst, err = appendSingle(dst, fd, v); err != nil {
				err = fmt.Errorf("%s: %w", fd.JSONName(), err)
				return false
			}
		}
		return true
	})
	return dst, err
}

// appendInline appends the entries of md's inline field (see
// inlineField) as members of the object, keys sorted, leaving out those
// another field of md names (its own member wins). first is as in
// appendFields, and returned updated.
func appendInline(dst []byte, md protoreflect.MessageDescriptor, fd protoreflect.FieldDescriptor, mp protoreflect.Map, first bool) ([]byte, bool, error) {
	named := jsonFields(md)
	keys := make([]string, 0, mp.Len())
	mp.Range(func(k protoreflect.MapKey, _ protoreflect.Value) bool {
		if _, ok := named[k.String()]; !ok {
			keys = append(keys, k.String())
		}
		return true
	})
	slices.Sort(keys)
	for _, key := range keys {
		if !first {
			dst = append(dst, ',')
		}
		first = false
		dst = appendString(dst, key)
		dst = append(dst, ':')
		var err error
		if dst, err = appendSingle(dst, fd.MapValue(), mp.Get(protoreflect.ValueOfString(key).MapKey())); err != nil {
			return nil, first, fmt.Errorf("%s: %w", key, err)
		}
	}
	return dst, first, nil
}

// appendMap appends a map field as an object with its keys sorted.
func appendMap(dst []byte, fd protoreflect.FieldDescriptor, mp protoreflect.Map) ([]byte, error) {
	keys := make([]protoreflect.MapKey, 0, mp.Len())
	mp.Range(func(k protoreflect.MapKey, _ protoreflect.Value) bool {
		keys = append(keys, k)
		return true
	})
	slices.SortFunc(keys, func(a, b protoreflect.MapKey) int {
		return cmp.Compare(a.String(), b.String())
	})
	dst = append(dst, '{')
	for i, k := range keys {
		if i > 0 {
			dst = append(dst, ',')
		}
		key := k.String()
		dst = appendString(dst, key)
		dst = append(dst, ':')
		var err error
		if dst, err = appendSingle(dst, fd.MapValue(), mp.Get(k)); err != nil {
			return nil, fmt.Errorf("%s[%s]: %w", fd.JSONName(), key, err)
		}
	}
	return append(dst, '}'), nil
}

// appendSingle appends one non-repeated value of fd's type, spelled as
// singleValue spells it.
func appendSingle(dst []byte, fd protoreflect.FieldDescriptor, v protoreflect.Value) ([]byte, error) {
	switch fd.Kind() {
	case protoreflect.StringKind:
		return appendString(dst, v.String()), nil
	case protoreflect.BoolKind:
		return strconv.AppendBool(dst, v.Bool()), nil
	case protoreflect.Int32Kind, protoreflect.Sint32Kind, protoreflect.Sfixed32Kind,
		protoreflect.Int64Kind, protoreflect.Sint64Kind, protoreflect.Sfixed64Kind:
		return strconv.AppendInt(dst, v.Int(), 10), nil
	case protoreflect.Uint32Kind, protoreflect.Fixed32Kind,
		protoreflect.Uint64Kind, protoreflect.Fixed64Kind:
		return strconv.AppendUint(dst, v.Uint(), 10), nil
	case protoreflect.FloatKind, protoreflect.DoubleKind:
		f := v.Float()
		if math.IsNaN(f) || math.IsInf(f, 0) {
			return nil, fmt.Errorf("%v cannot be written in a manifest", f)
		}
		return appendFloat(dst, f), nil
	case protoreflect.EnumKind:
		ev := fd.Enum().Values().ByNumber(v.Enum())
		if ev == nil {
			return nil, fmt.Errorf("enum value %d has no name", v.Enum())
		}
		return appendString(dst, string(ev.Name())), nil
	case protoreflect.BytesKind:
		dst = append(dst, '"')
		dst = base64.StdEncoding.AppendEncode(dst, v.Bytes())
		return append(dst, '"'), nil
	case protoreflect.MessageKind, protoreflect.GroupKind:
		if microTimeFields[fd.FullName()] {
			return appendTime(dst, timeOf(v.Message()), microTimeLayout), nil
		}
		return appendMessage(dst, v.Message())
	}
	return nil, fmt.Errorf("unsupported field type %s", fd.Kind())
}

// appendMessage appends a message: the value types in their scalar
// spelling (as messageValue), anything else as an object.
func appendMessage(dst []byte, m protoreflect.Message) ([]byte, error) {
	desc := m.Descriptor()
	f := desc.Fields()
	switch desc.FullName() {
	case quantityName:
		return appendString(dst, m.Get(f.ByName("string")).String()), nil
	case intOrStringName:
		switch t := m.Get(f.ByName("type")).Int(); t {
		case 0:
			return strconv.AppendInt(dst, m.Get(f.ByName("int_val")).Int(), 10), nil
		case 1:
			return appendString(dst, m.Get(f.ByName("str_val")).String()), nil
		default:
			return nil, fmt.Errorf("int-or-string has unknown type %d", t)
		}
	case rawName:
		raw := m.Get(f.ByName("raw")).Bytes()
		if len(raw) == 0 {
			return append(dst, "null"...), nil
		}
		b := bytes.NewBuffer(dst)
		if err := json.Compact(b, raw); err != nil {
			return nil, fmt.Errorf("embedded object: %w", err)
		}
		return b.Bytes(), nil
	case timestampName:
		return appendTime(dst, timeOf(m), "2006-01-02T15:04:05Z"), nil
	case durationName:
		sec, nsec := m.Get(f.ByName("seconds")).Int(), m.Get(f.ByName("nanos")).Int()
		return appendString(dst, (time.Duration(sec)*time.Second + time.Duration(nsec)).String()), nil
	}
	dst = append(dst, '{')
	dst, err := appendFields(dst, m, true, false)
	if err != nil {
		return nil, err
	}
	return append(dst, '}'), nil
}

func appendTime(dst []byte, t time.Time, layout string) []byte {
	dst = append(dst, '"')
	dst = t.AppendFormat(dst, layout)
	return append(dst, '"')
}

// appendString appends s as a JSON string. Strings of printable ASCII
// without quotes or backslashes, nearly all of an object's, are copied as
// they are; any other goes through encoding/json.
func appendString(dst []byte, s string) []byte {
	for i := 0; i < len(s); i++ {
		if c := s[i]; c < 0x20 || c == '"' || c == '\\' || c >= utf8.RuneSelf {
			b, _ := json.Marshal(s)
			return append(dst, b...)
		}
	}
	dst = append(dst, '"')
	dst = append(dst, s...)
	return append(dst, '"')
}

// appendFloat spells f as encoding/json does.
func appendFloat(dst []byte, f float64) []byte {
	b, _ := json.Marshal(f)
	return append(dst, b...)
}
