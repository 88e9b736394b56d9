package csv

import "fmt"

// Options configure a Decoder or Encoder. The zero value is the default: comma-separated, no
// unknown columns allowed.
type Options struct {
	// Comma separates fields. Zero means ','. It must be a printable ASCII character other than
	// '"'.
	Comma rune
	// IgnoreUnknownColumns makes Decoder.WithHeader skip header columns that match no field.
	// By default such a header is an error.
	IgnoreUnknownColumns bool
}

// Validate reports whether o is usable.
func (o Options) Validate() error {
	if c := o.Comma; c != 0 && (c < ' ' && c != '\t' || c > '~' || c == '"') {
		return fmt.Errorf("csv: invalid Comma %q (want a printable ASCII character or tab, not '\"')", c)
	}
	return nil
}

func (o Options) comma() byte {
	if o.Comma == 0 {
		return ','
	}
	return byte(o.Comma)
}
