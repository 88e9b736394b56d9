package iot_test

import (
	"encoding/json"
	"testing"

	"github.com/runnel-io/runnel/examples/iot"
)

// TestKindJSON checks that an Alert's kind reads as a name in JSON, both ways.
func TestKindJSON(t *testing.T) {
	b, err := json.Marshal(iot.Alert{Sensor: "s", Kind: iot.Silent, Time: 5})
	if err != nil {
		t.Fatal(err)
	}
	if want := `{"sensor":"s","kind":"silent","time":5,"temp":0,"mean":0,"stdDev":0}`; string(b) != want {
		t.Errorf("got %s, want %s", b, want)
	}
	var a iot.Alert
	if err := json.Unmarshal([]byte(`{"kind":"spike"}`), &a); err != nil || a.Kind != iot.Spike {
		t.Errorf("decoding spike: %v, %v", a.Kind, err)
	}
	if err := json.Unmarshal([]byte(`{"kind":"hot"}`), &a); err == nil {
		t.Error("decoding an unknown kind succeeded")
	}
	if _, err := json.Marshal(iot.Alert{}); err == nil {
		t.Error("encoding the zero Kind succeeded")
	}
}
