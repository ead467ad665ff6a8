package serving

import (
	"errors"
	"math"
	"strconv"
	"time"
	"unicode/utf8"
)

// This file encodes UserScore by hand: the answer of every score request,
// where encoding/json (reflection, then a second pass to compact the
// output of a MarshalJSON method) took a third of the request's CPU. The
// bytes are those encoding/json writes for the same value (HTML-escaping
// included); TestUserScoreJSONMatchesEncodingJSON and FuzzUserScoreJSON
// check it.

// errNotFinite is returned for a NaN or infinite number, which JSON cannot
// hold (encoding/json refuses them too).
var errNotFinite = errors.New("serving: score holds a NaN or infinite number")

// appendJSON appends u's JSON encoding to b: its fields in declaration
// order, with the expected purchases as "expected_purchases_<H>d" between
// p_alive and clv.
func (u *UserScore) appendJSON(b []byte) ([]byte, error) {
	var err error
	num := func(b []byte, f float64) []byte {
		if math.IsNaN(f) || math.IsInf(f, 0) {
			err = errNotFinite
			return b
		}
		return appendJSONFloat(b, f)
	}
	opt := func(b []byte, f *float64) []byte {
		if f == nil {
			return append(b, "null"...)
		}
		return num(b, *f)
	}
	b = append(b, `{"user_id":`...)
	b = appendJSONString(b, u.UserID)
	b = append(b, `,"churn_probability":`...)
	b = num(b, u.ChurnProbability)
	b = append(b, `,"risk_band":`...)
	b = appendJSONString(b, u.RiskBand)
	b = append(b, `,"purchase_probability":`...)
	b = opt(b, u.PurchaseProbability)
	b = append(b, `,"segment":`...)
	b = appendJSONString(b, u.Segment)
	b = append(b, `,"rfm_segment":`...)
	b = appendJSONString(b, u.RFMSegment)
	b = append(b, `,"lifecycle_stage":`...)
	b = appendJSONString(b, u.LifecycleStage)
	b = append(b, `,"usage_tier":`...)
	b = appendJSONString(b, u.UsageTier)
	b = append(b, `,"p_alive":`...)
	b = opt(b, u.PAlive)
	b = append(b, `,"`...)
	b = append(b, expectedKey(u.HorizonDays)...)
	b = append(b, `":`...)
	b = opt(b, u.ExpectedPurchases)
	b = append(b, `,"clv":`...)
	b = opt(b, u.CLV)
	b = append(b, `,"reasons":`...)
	if u.Reasons == nil {
		b = append(b, "null"...)
	} else {
		b = append(b, '[')
		for i, r := range u.Reasons {
			if i > 0 {
				b = append(b, ',')
			}
			b = append(b, `{"feature":`...)
			b = appendJSONString(b, r.Feature)
			b = append(b, `,"value":`...)
			b = num(b, r.Value)
			b = append(b, `,"contribution":`...)
			b = num(b, r.Contribution)
			b = append(b, `,"text":`...)
			b = appendJSONString(b, r.Text)
			b = append(b, '}')
		}
		b = append(b, ']')
	}
	b = append(b, `,"model_version":`...)
	b = appendJSONString(b, u.ModelVersion)
	b = append(b, `,"as_of":"`...)
	b = u.AsOf.AppendFormat(b, time.RFC3339Nano)
	b = append(b, `","source":`...)
	b = appendJSONString(b, u.Source)
	b = append(b, '}')
	if err == nil && (u.AsOf.Year() < 0 || u.AsOf.Year() > 9999) {
		err = errors.New("serving: as_of year outside [0, 9999]")
	}
	return b, err
}

// appendJSONFloat appends f as encoding/json does: the shortest decimal
// that round-trips, in exponent form below 1e-6 and from 1e21, with a
// two-digit exponent written without a leading zero (1e-07 -> 1e-7).
func appendJSONFloat(b []byte, f float64) []byte {
	format := byte('f')
	if abs := math.Abs(f); abs != 0 && (abs < 1e-6 || abs >= 1e21) {
		format = 'e'
	}
	b = strconv.AppendFloat(b, f, format, -1, 64)
	if format == 'e' {
		if n := len(b); n >= 4 && b[n-4] == 'e' && b[n-3] == '-' && b[n-2] == '0' {
			b[n-2] = b[n-1]
			b = b[:n-1]
		}
	}
	return b
}

const hexDigits = "0123456789abcdef"

// appendJSONString appends s as a JSON string the way encoding/json does
// by default: quotes, backslashes and control characters escaped (\b, \f,
// \n, \r, \t by name), <, > and & as \u00XX, U+2028 and U+2029 escaped,
// and invalid UTF-8 replaced by U+FFFD.
func appendJSONString(b []byte, s string) []byte {
	b = append(b, '"')
	start := 0
	for i := 0; i < len(s); {
		c := s[i]
		if c < utf8.RuneSelf {
			if c >= 0x20 && c != '"' && c != '\\' && c != '<' && c != '>' && c != '&' {
				i++
				continue
			}
			b = append(b, s[start:i]...)
			switch c {
			case '"', '\\':
				b = append(b, '\\', c)
			case '\b':
				b = append(b, '\\', 'b')
			case '\f':
				b = append(b, '\\', 'f')
			case '\n':
				b = append(b, '\\', 'n')
			case '\r':
				b = append(b, '\\', 'r')
			case '\t':
				b = append(b, '\\', 't')
			default:
				b = append(b, '\\', 'u', '0', '0', hexDigits[c>>4], hexDigits[c&0xf])
			}
			i++
			start = i
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && size == 1 {
			b = append(b, s[start:i]...)
			b = append(b, `\ufffd`...)
			i += size
			start = i
			continue
		}
		if r == '\u2028' || r == '\u2029' {
			b = append(b, s[start:i]...)
			b = append(b, '\\', 'u', '2', '0', '2', hexDigits[r&0xf])
			i += size
			start = i
			continue
		}
		i += size
	}
	b = append(b, s[start:]...)
	return append(b, '"')
}
