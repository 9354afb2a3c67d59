package encryptionconfig

import (
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"reflect"
	"slices"
	"strings"

	"k8s.io/apimachinery/pkg/util/validation/field"
	"sigs.k8s.io/yaml"
)

// hints complete the error of an unknown field Kubernetes has and Keel
// does not.
var hints = map[string]string{
	"kms": "the kms provider is not supported: use aesgcm, aescbc or secretbox",
}

// decodeStrict decodes YAML (or JSON) into v, a pointer to a struct of
// this package: duplicate keys, unknown fields and values of the wrong
// type are errors naming their path.
func decodeStrict(data []byte, v any) error {
	js, err := yaml.YAMLToJSONStrict(data)
	if err != nil {
		return err
	}
	var doc any
	if err := json.Unmarshal(js, &doc); err != nil {
		return err
	}
	if doc == nil {
		return errors.New("the file is empty")
	}
	if errs := check(nil, doc, reflect.TypeOf(v).Elem()); len(errs) > 0 {
		return join(errs)
	}
	// sigs.k8s.io/yaml turns numbers into the strings the fields take.
	return yaml.UnmarshalStrict(data, v)
}

// check compares a decoded JSON value with the Go type it is to fill.
func check(p *field.Path, v any, t reflect.Type) field.ErrorList {
	if t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	if v == nil {
		return nil // null: the zero value
	}
	switch t.Kind() {
	case reflect.String:
		switch v.(type) {
		case string, float64: // an all-digit base64 secret is a YAML number
		default:
			return field.ErrorList{mistyped(p, v, "must be a string")}
		}
	case reflect.Slice:
		items, ok := v.([]any)
		if !ok {
			return field.ErrorList{mistyped(p, v, "must be a list")}
		}
		var errs field.ErrorList
		for i, item := range items {
			errs = append(errs, check(p.Index(i), item, t.Elem())...)
		}
		return errs
	case reflect.Struct:
		m, ok := v.(map[string]any)
		if !ok {
			return field.ErrorList{mistyped(p, v, "must be an object")}
		}
		fields := map[string]reflect.Type{}
		for i := range t.NumField() {
			f := t.Field(i)
			name, _, _ := strings.Cut(f.Tag.Get("json"), ",")
			fields[name] = f.Type
		}
		var errs field.ErrorList
		for _, k := range slices.Sorted(maps.Keys(m)) {
			ft, ok := fields[k]
			if !ok {
				errs = append(errs, unknown(p.Child(k), k))
				continue
			}
			errs = append(errs, check(p.Child(k), m[k], ft)...)
		}
		return errs
	default:
		panic(fmt.Sprintf("encryptionconfig: no check for %s", t))
	}
	return nil
}

func unknown(p *field.Path, name string) *field.Error {
	msg := "unknown field"
	if h, ok := hints[name]; ok {
		msg += ": " + h
	}
	return field.Invalid(p, name, msg)
}

// mistyped reports a value of the wrong JSON type by its type, never its
// content (it may be a secret).
func mistyped(p *field.Path, v any, msg string) *field.Error {
	kind := "number"
	switch v.(type) {
	case string:
		kind = "string"
	case bool:
		kind = "boolean"
	case []any:
		kind = "list"
	case map[string]any:
		kind = "object"
	}
	return field.Invalid(p, kind, msg)
}
