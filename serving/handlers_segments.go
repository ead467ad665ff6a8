package serving

import (
	"encoding/base64"
	"encoding/csv"
	"errors"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/lapse-dev/lapse/model"
)

// family is one segment family: a name and how to read it off a score.
type family struct {
	name  string
	of    func(p *model.Prediction) string
	order func(m *model.Model) []string // canonical segment order, listed even when empty
}

// families are the segment families of GET /v1/segments, in display order.
var families = []family{
	{"risk_band", func(p *model.Prediction) string { return p.RiskBand },
		func(*model.Model) []string { return []string{model.BandHigh, model.BandMedium, model.BandLow} }},
	{"segment", func(p *model.Prediction) string { return p.Segment },
		func(m *model.Model) []string {
			if m.Clusters == nil || m.Clusters.KMeans == nil {
				return nil
			}
			names := make([]string, m.Clusters.KMeans.K())
			for k := range names {
				names[k] = m.Clusters.Name(k)
			}
			return names
		}},
	{"rfm_segment", func(p *model.Prediction) string { return p.RFMSegment },
		func(*model.Model) []string { return model.RFMSegmentNames }},
	{"lifecycle_stage", func(p *model.Prediction) string { return p.LifecycleStage },
		func(*model.Model) []string { return model.LifecycleStages }},
	{"usage_tier", func(p *model.Prediction) string { return p.UsageTier },
		func(*model.Model) []string { return model.UsageTiers }},
}

func familyNamed(name string) (*family, bool) {
	for i := range families {
		if families[i].name == name {
			return &families[i], true
		}
	}
	return nil, false
}

// SegmentFamily lists the segments of one family with their sizes.
type SegmentFamily struct {
	Family   string        `json:"family"`
	Segments []SegmentSize `json:"segments"`
}

// SegmentSize is one segment and the number of users in it.
type SegmentSize struct {
	Name  string `json:"name"`
	Users int    `json:"users"`
}

// SegmentsResponse is the answer of GET /v1/segments.
type SegmentsResponse struct {
	ModelVersion string          `json:"model_version"`
	AsOf         time.Time       `json:"as_of"`
	Families     []SegmentFamily `json:"families"`
}

// segmentSizes counts the stored scores of a's version by segment, once
// per loaded model: stored scores never change after training.
func (s *Server) segmentSizes(c *gin.Context, a *activeModel) ([]SegmentFamily, error) {
	a.sizesMu.Lock()
	defer a.sizesMu.Unlock()
	if a.sizes != nil {
		return a.sizes, nil
	}
	counts := make([]map[string]int, len(families))
	for i := range counts {
		counts[i] = map[string]int{}
	}
	err := s.deps.Segments.EachScore(c.Request.Context(), a.m.Version, "", func(_ string, p *model.Prediction) error {
		for i := range families {
			if name := families[i].of(p); name != "" {
				counts[i][name]++
			}
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	out := make([]SegmentFamily, len(families))
	for i, f := range families {
		order := f.order(a.m)
		names := slices.Clone(order)
		var extra []string
		for name := range counts[i] {
			if !slices.Contains(order, name) {
				extra = append(extra, name)
			}
		}
		slices.Sort(extra)
		names = append(names, extra...)
		out[i] = SegmentFamily{Family: f.name, Segments: make([]SegmentSize, len(names))}
		for j, name := range names {
			out[i].Segments[j] = SegmentSize{Name: name, Users: counts[i][name]}
		}
	}
	a.sizes = out
	return out, nil
}

// getSegments is GET /v1/segments.
func (s *Server) getSegments(c *gin.Context) error {
	a, err := s.model()
	if err != nil {
		return err
	}
	sizes, err := s.segmentSizes(c, a)
	if err != nil {
		return err
	}
	c.JSON(http.StatusOK, SegmentsResponse{ModelVersion: a.m.Version, AsOf: a.m.AsOf.UTC(), Families: sizes})
	return nil
}

// SegmentMember is one exported member of a segment, from the score record
// stored by training.
type SegmentMember struct {
	UserID              string   `json:"user_id"`
	ChurnProbability    float64  `json:"churn_probability"`
	RiskBand            string   `json:"risk_band"`
	PurchaseProbability *float64 `json:"purchase_probability"`
	Segment             string   `json:"segment"`
	RFMSegment          string   `json:"rfm_segment"`
	LifecycleStage      string   `json:"lifecycle_stage"`
	UsageTier           string   `json:"usage_tier"`
}

// csvHeader is the header of a CSV segment export; its columns are the
// JSON fields of SegmentMember.
var csvHeader = []string{"user_id", "churn_probability", "risk_band", "purchase_probability",
	"segment", "rfm_segment", "lifecycle_stage", "usage_tier"}

func (m *SegmentMember) csvRecord() []string {
	pp := ""
	if m.PurchaseProbability != nil {
		pp = strconv.FormatFloat(*m.PurchaseProbability, 'f', -1, 64)
	}
	return []string{m.UserID, strconv.FormatFloat(m.ChurnProbability, 'f', -1, 64), m.RiskBand, pp,
		m.Segment, m.RFMSegment, m.LifecycleStage, m.UsageTier}
}

// SegmentUsersResponse is the JSON answer of
// GET /v1/segments/{family}/{name}/users.
type SegmentUsersResponse struct {
	Family       string          `json:"family"`
	Name         string          `json:"name"`
	ModelVersion string          `json:"model_version"`
	AsOf         time.Time       `json:"as_of"`
	Users        []SegmentMember `json:"users"`
	// NextCursor fetches the next page; empty on the last page.
	NextCursor string `json:"next_cursor"`
}

// errStopScan ends an EachScore scan early.
var errStopScan = errors.New("serving: stop scan")

// getSegmentUsers is GET /v1/segments/{family}/{name}/users: one page of
// a segment's members in user-id order, without suppressed users.
func (s *Server) getSegmentUsers(c *gin.Context) error {
	fam, ok := familyNamed(c.Param("family"))
	if !ok {
		return Errorf(CodeNotFound, "no segment family %q; the families are risk_band, segment, rfm_segment, lifecycle_stage and usage_tier", c.Param("family"))
	}
	name := c.Param("name")
	asCSV, err := wantCSV(c)
	if err != nil {
		return err
	}
	limit := s.cfg.DefaultPageSize
	if v, ok := c.GetQuery("limit"); ok {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > s.cfg.MaxPageSize {
			return Errorf(CodeInvalid, "query parameter \"limit\" must be an integer from 1 to %d", s.cfg.MaxPageSize)
		}
		limit = n
	}
	after := ""
	if v := c.Query("cursor"); v != "" {
		b, err := base64.RawURLEncoding.DecodeString(v)
		if err != nil || CheckID("cursor", string(b)) != nil {
			return Errorf(CodeInvalid, "query parameter \"cursor\" is not a cursor from a previous page")
		}
		after = string(b)
	}
	a, err := s.model()
	if err != nil {
		return err
	}
	sizes, err := s.segmentSizes(c, a)
	if err != nil {
		return err
	}
	if !hasSegment(sizes, fam.name, name) {
		return Errorf(CodeNotFound, "family %s has no segment %q in model %s", fam.name, name, a.m.Version)
	}
	members, next, err := s.segmentPage(c, a, fam, name, after, limit)
	if err != nil {
		return err
	}
	cursor := ""
	if next != "" {
		cursor = base64.RawURLEncoding.EncodeToString([]byte(next))
	}
	if asCSV {
		c.Header("Content-Type", "text/csv; charset=utf-8")
		if cursor != "" {
			c.Header("X-Next-Cursor", cursor)
		}
		c.Status(http.StatusOK)
		w := csv.NewWriter(c.Writer)
		w.Write(csvHeader)
		for i := range members {
			w.Write(members[i].csvRecord())
		}
		w.Flush()
		return nil // a write error means the client went away
	}
	c.JSON(http.StatusOK, SegmentUsersResponse{
		Family: fam.name, Name: name, ModelVersion: a.m.Version, AsOf: a.m.AsOf.UTC(),
		Users: members, NextCursor: cursor,
	})
	return nil
}

func hasSegment(sizes []SegmentFamily, fam, name string) bool {
	for _, f := range sizes {
		if f.Family == fam {
			for _, sg := range f.Segments {
				if sg.Name == name {
					return true
				}
			}
		}
	}
	return false
}

// wantCSV reads the requested format: ?format=csv|json wins, then an
// Accept header naming text/csv; JSON otherwise. Anything else is 406.
func wantCSV(c *gin.Context) (bool, error) {
	switch f := c.Query("format"); f {
	case "csv":
		return true, nil
	case "json":
		return false, nil
	case "":
	default:
		return false, Errorf(CodeInvalid, "query parameter \"format\" must be csv or json")
	}
	accept := c.GetHeader("Accept")
	if accept == "" {
		return false, nil
	}
	switch c.NegotiateFormat("application/json", "text/csv") {
	case "text/csv":
		return true, nil
	case "application/json":
		return false, nil
	}
	if strings.Contains(accept, "*/*") {
		return false, nil
	}
	return false, Errorf(CodeNotAcceptable, "this route answers application/json or text/csv, not %q", accept)
}

// segmentPage collects up to limit unsuppressed members of the segment
// after the user id after. It scans the stored scores in chunks and asks
// the store which of each chunk's members are suppressed outside the scan,
// so no read transaction is held while another opens. next is the last
// member returned when more may follow, else "".
func (s *Server) segmentPage(c *gin.Context, a *activeModel, fam *family, name, after string, limit int) ([]SegmentMember, string, error) {
	ctx := c.Request.Context()
	want := max(limit, 256)
	members := make([]SegmentMember, 0, min(limit, 1024))
	for {
		var chunk []SegmentMember
		var ids []string
		last := ""
		err := s.deps.Segments.EachScore(ctx, a.m.Version, after, func(id string, p *model.Prediction) error {
			last = id
			if fam.of(p) != name {
				return nil
			}
			chunk = append(chunk, memberOf(id, p))
			ids = append(ids, id)
			if len(chunk) >= want {
				return errStopScan
			}
			return nil
		})
		more := errors.Is(err, errStopScan)
		if err != nil && !more {
			return nil, "", err
		}
		if len(ids) > 0 {
			sup := make([]bool, len(ids))
			if err := s.deps.Segments.Suppressed(ctx, ids, sup); err != nil {
				return nil, "", err
			}
			for i := range chunk {
				if sup[i] {
					continue
				}
				members = append(members, chunk[i])
				if len(members) == limit {
					if i == len(chunk)-1 && !more {
						return members, "", nil
					}
					return members, chunk[i].UserID, nil
				}
			}
		}
		if !more {
			return members, "", nil
		}
		after = last
	}
}

// memberOf copies what an export shows of a score record; p may be reused
// by the store after the callback returns.
func memberOf(id string, p *model.Prediction) SegmentMember {
	var pp *float64
	if p.PurchaseProbability != nil {
		v := *p.PurchaseProbability
		pp = &v
	}
	return SegmentMember{
		UserID: id, ChurnProbability: p.ChurnProbability, RiskBand: p.RiskBand,
		PurchaseProbability: pp, Segment: p.Segment, RFMSegment: p.RFMSegment,
		LifecycleStage: p.LifecycleStage, UsageTier: p.UsageTier,
	}
}
