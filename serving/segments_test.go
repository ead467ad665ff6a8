package serving

import (
	"encoding/csv"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/lapse-dev/lapse/model"
)

// TestSegmentExportPages walks a segment page by page, in JSON and in CSV,
// with opted-out and control users, and checks that the pages together hold
// every unsuppressed member exactly once, in user-id order.
func TestSegmentExportPages(t *testing.T) {
	for _, limit := range []int{1, 3, 4, 100} {
		for _, asCSV := range []bool{false, true} {
			f := newFixture(t, Config{})
			// The fixture's "high" users: bob, s00, s03, ..., s27.
			f.do("POST", "/v1/users/s03/opt-out", "")
			f.store.control["s12"] = true
			f.store.control["s27"] = true
			want := []string{"bob", "s00", "s06", "s09", "s15", "s18", "s21", "s24"}
			var got []string
			cursor := ""
			for page := 0; page < 20; page++ {
				target := "/v1/segments/risk_band/high/users?limit=" + strconv.Itoa(limit)
				if cursor != "" {
					target += "&cursor=" + url.QueryEscape(cursor)
				}
				var ids []string
				if asCSV {
					w := f.do("GET", target, "", "Accept", "text/csv")
					recs, err := csv.NewReader(strings.NewReader(w.Body.String())).ReadAll()
					if err != nil || w.Code != 200 {
						t.Fatalf("%d %v: %s", w.Code, err, w.Body)
					}
					for _, r := range recs[1:] {
						ids = append(ids, r[0])
					}
					cursor = w.Header().Get("X-Next-Cursor")
				} else {
					var r SegmentUsersResponse
					w := f.do("GET", target, "")
					mustJSON(t, w, &r)
					for _, u := range r.Users {
						ids = append(ids, u.UserID)
					}
					cursor = r.NextCursor
				}
				if len(ids) > limit {
					t.Fatalf("page of %d users, limit %d", len(ids), limit)
				}
				got = append(got, ids...)
				if cursor == "" {
					break
				}
			}
			if !slices.Equal(got, want) {
				t.Errorf("limit %d csv %v: got %v, want %v", limit, asCSV, got, want)
			}
		}
	}
}

// TestSegmentSizesCanonicalOrder checks that families list their segments
// in the model's order, zero-size ones included, then unknown names.
func TestSegmentSizesCanonicalOrder(t *testing.T) {
	f := newFixture(t, Config{})
	f.store.putScore("v1", "zed", model.Prediction{RiskBand: "low", UsageTier: "mystery"})
	var r SegmentsResponse
	mustJSON(t, f.do("GET", "/v1/segments", ""), &r)
	var tiers, clusters []string
	for _, fam := range r.Families {
		for _, s := range fam.Segments {
			switch fam.Family {
			case "usage_tier":
				tiers = append(tiers, s.Name)
			case "segment":
				clusters = append(clusters, s.Name)
			}
		}
	}
	if want := append(slices.Clone(model.UsageTiers), "mystery"); !slices.Equal(tiers, want) {
		t.Errorf("usage tiers %v, want %v", tiers, want)
	}
	if want := []string{"recent", "lapsed"}; !slices.Equal(clusters, want) {
		t.Errorf("clusters %v, want %v", clusters, want)
	}
}
