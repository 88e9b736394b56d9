// Package awsjson is the AWS JSON 1.1 protocol as a server speaks it: requests routed by their
// X-Amz-Target header, bodies decoded into and encoded from the shapes of an AWS SDK for Go v2
// service package (its input, output and types structs), and errors as the SDKs parse them.
//
// The SDK's shapes carry no JSON tags: a member's name on the wire is its Go field name, which
// the SDK generator keeps equal to the service model's member name. Timestamps travel as epoch
// seconds (a JSON number, with fractions), blobs as base64 strings, enums as their strings;
// absent members (nil pointers, nil slices and maps, empty enums) are left out.
package awsjson

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"math"
	"reflect"
	"strconv"
	"strings"
	"time"
)

var timeType = reflect.TypeFor[time.Time]()

// Marshal encodes v, an SDK shape or a pointer to one, as AWS JSON 1.1.
func Marshal(v any) ([]byte, error) {
	var buf bytes.Buffer
	if err := encode(&buf, reflect.ValueOf(v)); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

// present reports whether v holds something to send: AWS JSON leaves absent members out.
func present(v reflect.Value) bool {
	switch v.Kind() {
	case reflect.Pointer, reflect.Interface:
		return !v.IsNil()
	case reflect.Slice, reflect.Map:
		return !v.IsNil()
	case reflect.String:
		return v.Len() > 0
	case reflect.Struct:
		return true
	}
	return true
}

func encode(buf *bytes.Buffer, v reflect.Value) error {
	switch v.Kind() {
	case reflect.Invalid:
		buf.WriteString("null")
		return nil
	case reflect.Pointer, reflect.Interface:
		if v.IsNil() {
			buf.WriteString("null")
			return nil
		}
		return encode(buf, v.Elem())
	}
	if v.Type() == timeType {
		t := v.Interface().(time.Time)
		buf.WriteString(strconv.FormatFloat(float64(t.UnixNano())/1e9, 'f', -1, 64))
		return nil
	}
	switch v.Kind() {
	case reflect.Struct:
		buf.WriteByte('{')
		first := true
		t := v.Type()
		for i := range t.NumField() {
			f := t.Field(i)
			if !f.IsExported() || f.Name == "ResultMetadata" {
				continue
			}
			fv := v.Field(i)
			if !present(fv) {
				continue
			}
			if !first {
				buf.WriteByte(',')
			}
			first = false
			name, _ := json.Marshal(f.Name)
			buf.Write(name)
			buf.WriteByte(':')
			if err := encode(buf, fv); err != nil {
				return fmt.Errorf("%s: %w", f.Name, err)
			}
		}
		buf.WriteByte('}')
	case reflect.Slice:
		if v.Type().Elem().Kind() == reflect.Uint8 {
			b, _ := json.Marshal(base64.StdEncoding.EncodeToString(v.Bytes()))
			buf.Write(b)
			return nil
		}
		buf.WriteByte('[')
		for i := range v.Len() {
			if i > 0 {
				buf.WriteByte(',')
			}
			if err := encode(buf, v.Index(i)); err != nil {
				return err
			}
		}
		buf.WriteByte(']')
	case reflect.Map:
		if v.Type().Key().Kind() != reflect.String {
			return fmt.Errorf("awsjson: map key %s is not a string", v.Type().Key())
		}
		buf.WriteByte('{')
		keys := v.MapKeys()
		strs := make([]string, len(keys))
		for i, k := range keys {
			strs[i] = k.String()
		}
		for i, k := range sortedIdx(strs) {
			if i > 0 {
				buf.WriteByte(',')
			}
			name, _ := json.Marshal(strs[k])
			buf.Write(name)
			buf.WriteByte(':')
			if err := encode(buf, v.MapIndex(keys[k])); err != nil {
				return err
			}
		}
		buf.WriteByte('}')
	case reflect.String:
		b, _ := json.Marshal(v.String())
		buf.Write(b)
	case reflect.Bool:
		buf.WriteString(strconv.FormatBool(v.Bool()))
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		buf.WriteString(strconv.FormatInt(v.Int(), 10))
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		buf.WriteString(strconv.FormatUint(v.Uint(), 10))
	case reflect.Float32, reflect.Float64:
		f := v.Float()
		if math.IsNaN(f) || math.IsInf(f, 0) {
			return fmt.Errorf("awsjson: %v is not a JSON number", f)
		}
		buf.WriteString(strconv.FormatFloat(f, 'g', -1, 64))
	default:
		return fmt.Errorf("awsjson: cannot encode %s", v.Type())
	}
	return nil
}

// sortedIdx returns the indexes of strs in the order of their strings, so maps encode
// deterministically.
func sortedIdx(strs []string) []int {
	idx := make([]int, len(strs))
	for i := range idx {
		idx[i] = i
	}
	for i := 1; i < len(idx); i++ {
		for j := i; j > 0 && strs[idx[j]] < strs[idx[j-1]]; j-- {
			idx[j], idx[j-1] = idx[j-1], idx[j]
		}
	}
	return idx
}

// DecodeError is a request body that does not fit its shape: malformed JSON, or a member of
// the wrong type. Path names the member ("ApplicationConfiguration.FlinkApplicationConfiguration
// .ParallelismConfiguration.Parallelism").
type DecodeError struct {
	Path   string
	Reason string
}

func (e *DecodeError) Error() string {
	if e.Path == "" {
		return e.Reason
	}
	return fmt.Sprintf("%s: %s", e.Path, e.Reason)
}

// Unmarshal decodes the AWS JSON 1.1 body data into v, a pointer to an SDK input shape.
// Unknown members are ignored, as AWS does; malformed JSON and members of the wrong type give a
// *DecodeError naming the member. An empty body decodes as {}.
func Unmarshal(data []byte, v any) error {
	if len(bytes.TrimSpace(data)) == 0 {
		data = []byte("{}")
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	var raw any
	if err := dec.Decode(&raw); err != nil {
		return &DecodeError{Reason: fmt.Sprintf("malformed JSON: %v", err)}
	}
	if dec.More() {
		return &DecodeError{Reason: "malformed JSON: data after the request object"}
	}
	if _, ok := raw.(map[string]any); !ok {
		return &DecodeError{Reason: "the request body is not a JSON object"}
	}
	rv := reflect.ValueOf(v)
	if rv.Kind() != reflect.Pointer || rv.IsNil() {
		return fmt.Errorf("awsjson: Unmarshal needs a non-nil pointer, got %T", v)
	}
	return decode(raw, rv.Elem(), "")
}

func join(path, name string) string {
	if path == "" {
		return name
	}
	return path + "." + name
}

func decode(raw any, v reflect.Value, path string) error {
	if raw == nil {
		v.Set(reflect.Zero(v.Type()))
		return nil
	}
	if v.Kind() == reflect.Pointer {
		p := reflect.New(v.Type().Elem())
		if err := decode(raw, p.Elem(), path); err != nil {
			return err
		}
		v.Set(p)
		return nil
	}
	wrong := func(want string) error {
		return &DecodeError{Path: path, Reason: fmt.Sprintf("expected %s, got %s", want, jsonKind(raw))}
	}
	if v.Type() == timeType {
		n, ok := raw.(json.Number)
		if !ok {
			return wrong("a timestamp in epoch seconds")
		}
		f, err := n.Float64()
		if err != nil {
			return wrong("a timestamp in epoch seconds")
		}
		sec, frac := math.Modf(f)
		v.Set(reflect.ValueOf(time.Unix(int64(sec), int64(math.Round(frac*1e9))).UTC()))
		return nil
	}
	switch v.Kind() {
	case reflect.Struct:
		m, ok := raw.(map[string]any)
		if !ok {
			return wrong("an object")
		}
		t := v.Type()
		for i := range t.NumField() {
			f := t.Field(i)
			if !f.IsExported() {
				continue
			}
			fr, ok := m[f.Name]
			if !ok {
				continue
			}
			if err := decode(fr, v.Field(i), join(path, f.Name)); err != nil {
				return err
			}
		}
	case reflect.Slice:
		if v.Type().Elem().Kind() == reflect.Uint8 {
			s, ok := raw.(string)
			if !ok {
				return wrong("a base64 string")
			}
			b, err := base64.StdEncoding.DecodeString(s)
			if err != nil {
				return &DecodeError{Path: path, Reason: "not valid base64"}
			}
			v.SetBytes(b)
			return nil
		}
		a, ok := raw.([]any)
		if !ok {
			return wrong("a list")
		}
		s := reflect.MakeSlice(v.Type(), len(a), len(a))
		for i, e := range a {
			if err := decode(e, s.Index(i), fmt.Sprintf("%s[%d]", path, i)); err != nil {
				return err
			}
		}
		v.Set(s)
	case reflect.Map:
		m, ok := raw.(map[string]any)
		if !ok {
			return wrong("a map")
		}
		out := reflect.MakeMapWithSize(v.Type(), len(m))
		for k, e := range m {
			ev := reflect.New(v.Type().Elem()).Elem()
			if err := decode(e, ev, fmt.Sprintf("%s[%q]", path, k)); err != nil {
				return err
			}
			out.SetMapIndex(reflect.ValueOf(k).Convert(v.Type().Key()), ev)
		}
		v.Set(out)
	case reflect.String:
		s, ok := raw.(string)
		if !ok {
			return wrong("a string")
		}
		v.SetString(s)
	case reflect.Bool:
		b, ok := raw.(bool)
		if !ok {
			return wrong("a boolean")
		}
		v.SetBool(b)
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		n, ok := raw.(json.Number)
		if !ok {
			return wrong("an integer")
		}
		i, err := strconv.ParseInt(string(n), 10, 64)
		if err != nil || v.OverflowInt(i) {
			return &DecodeError{Path: path, Reason: fmt.Sprintf("%s is not an integer of %d bits", n, v.Type().Bits())}
		}
		v.SetInt(i)
	case reflect.Float32, reflect.Float64:
		n, ok := raw.(json.Number)
		if !ok {
			return wrong("a number")
		}
		f, err := n.Float64()
		if err != nil {
			return wrong("a number")
		}
		v.SetFloat(f)
	default:
		return fmt.Errorf("awsjson: cannot decode into %s", v.Type())
	}
	return nil
}

func jsonKind(raw any) string {
	switch r := raw.(type) {
	case map[string]any:
		return "an object"
	case []any:
		return "a list"
	case string:
		return "a string"
	case bool:
		return "a boolean"
	case json.Number:
		if strings.ContainsAny(string(r), ".eE") {
			return "a number"
		}
		return "an integer"
	}
	return "null"
}
