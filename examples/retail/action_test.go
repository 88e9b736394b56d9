package retail_test

import (
	"encoding/json"
	"testing"

	"github.com/runnel-io/runnel/examples/retail"
)

// TestActionJSON checks that a Signal's action reads as a name in JSON, both ways.
func TestActionJSON(t *testing.T) {
	b, err := json.Marshal(retail.Signal{Store: "s", Product: "p", Action: retail.Discount})
	if err != nil {
		t.Fatal(err)
	}
	if want := `{"store":"s","product":"p","action":"discount","windowStart":0,"windowEnd":0,"units":0,"prevUnits":0,"revenue":0}`; string(b) != want {
		t.Errorf("got %s, want %s", b, want)
	}
	var s retail.Signal
	for _, a := range []retail.Action{retail.Raise, retail.Discount} {
		b, _ := a.MarshalText()
		if err := json.Unmarshal([]byte(`{"action":"`+string(b)+`"}`), &s); err != nil || s.Action != a {
			t.Errorf("round trip of %v: %v, %v", a, s.Action, err)
		}
	}
	if err := json.Unmarshal([]byte(`{"action":"hold"}`), &s); err == nil {
		t.Error("decoding an unknown action succeeded")
	}
}
