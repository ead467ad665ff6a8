package serving

import (
	"context"
	_ "embed"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/lapse-dev/lapse/features"
	"github.com/lapse-dev/lapse/model"
)

// openAPI is the OpenAPI 3 document of every route, served at
// /openapi.yaml. TestOpenAPIMatchesRoutes keeps it equal to the route table.
//
//go:embed openapi.yaml
var openAPI []byte

// Config holds the server's limits and clock. The zero value of every
// field means its default (see DefaultConfig).
type Config struct {
	// Tokens are the accepted bearer tokens. Empty disables
	// authentication; Serve then refuses a non-loopback listener.
	Tokens []Token
	// MaxBodyBytes bounds a request body; larger bodies get 413.
	// 0 means 10 MiB.
	MaxBodyBytes int64
	// MaxScoreIDs bounds the user ids of one POST /v1/scores. 0 means 1,000.
	MaxScoreIDs int
	// MaxEvents bounds the events of one POST /v1/events. 0 means 10,000.
	MaxEvents int
	// DefaultPageSize is the limit of a segment export page when the
	// request gives none; 0 means 100. MaxPageSize caps the limit a
	// request may ask for; 0 means 10,000.
	DefaultPageSize, MaxPageSize int
	// Now is the clock of request times: the as-of time of live scores and
	// the clock-skew rule of event validation. nil means time.Now.
	Now func() time.Time
	// ReadHeaderTimeout, ReadTimeout, WriteTimeout and IdleTimeout are the
	// http.Server timeouts Serve uses; 0 means 5 s, 30 s, 60 s and 120 s.
	ReadHeaderTimeout, ReadTimeout, WriteTimeout, IdleTimeout time.Duration
	// ShutdownTimeout bounds how long Serve waits for in-flight requests
	// once its context is cancelled; 0 means 10 s.
	ShutdownTimeout time.Duration
}

// DefaultConfig returns a fresh Config with every default filled in and no
// tokens.
func DefaultConfig() Config {
	return Config{
		MaxBodyBytes:      10 << 20,
		MaxScoreIDs:       1000,
		MaxEvents:         10000,
		DefaultPageSize:   100,
		MaxPageSize:       10000,
		Now:               time.Now,
		ReadHeaderTimeout: 5 * time.Second,
		ReadTimeout:       30 * time.Second,
		WriteTimeout:      60 * time.Second,
		IdleTimeout:       120 * time.Second,
		ShutdownTimeout:   10 * time.Second,
	}
}

// withDefaults fills zero fields from DefaultConfig.
func (c Config) withDefaults() Config {
	d := DefaultConfig()
	setInt64 := func(v *int64, def int64) {
		if *v == 0 {
			*v = def
		}
	}
	setInt := func(v *int, def int) {
		if *v == 0 {
			*v = def
		}
	}
	setDur := func(v *time.Duration, def time.Duration) {
		if *v == 0 {
			*v = def
		}
	}
	setInt64(&c.MaxBodyBytes, d.MaxBodyBytes)
	setInt(&c.MaxScoreIDs, d.MaxScoreIDs)
	setInt(&c.MaxEvents, d.MaxEvents)
	setInt(&c.DefaultPageSize, d.DefaultPageSize)
	setInt(&c.MaxPageSize, d.MaxPageSize)
	setDur(&c.ReadHeaderTimeout, d.ReadHeaderTimeout)
	setDur(&c.ReadTimeout, d.ReadTimeout)
	setDur(&c.WriteTimeout, d.WriteTimeout)
	setDur(&c.IdleTimeout, d.IdleTimeout)
	setDur(&c.ShutdownTimeout, d.ShutdownTimeout)
	if c.Now == nil {
		c.Now = time.Now
	}
	return c
}

// Validate reports every invalid field: negative limits and timeouts, a
// default page size above the maximum, malformed tokens.
func (c Config) Validate() error {
	var errs []error
	for _, f := range []struct {
		name string
		v    int64
	}{
		{"MaxBodyBytes", c.MaxBodyBytes}, {"MaxScoreIDs", int64(c.MaxScoreIDs)}, {"MaxEvents", int64(c.MaxEvents)},
		{"DefaultPageSize", int64(c.DefaultPageSize)}, {"MaxPageSize", int64(c.MaxPageSize)},
		{"ReadHeaderTimeout", int64(c.ReadHeaderTimeout)}, {"ReadTimeout", int64(c.ReadTimeout)},
		{"WriteTimeout", int64(c.WriteTimeout)}, {"IdleTimeout", int64(c.IdleTimeout)},
		{"ShutdownTimeout", int64(c.ShutdownTimeout)},
	} {
		if f.v < 0 {
			errs = append(errs, fmt.Errorf("%s (%d) must not be negative", f.name, f.v))
		}
	}
	d := c.withDefaults()
	if d.DefaultPageSize > d.MaxPageSize {
		errs = append(errs, fmt.Errorf("DefaultPageSize (%d) must be <= MaxPageSize (%d)", d.DefaultPageSize, d.MaxPageSize))
	}
	seen := map[string]bool{}
	for i, t := range c.Tokens {
		if err := checkSecret(t.Secret); err != nil {
			errs = append(errs, fmt.Errorf("Tokens[%d]: %w", i, err))
		}
		if t.Role < RoleRead || t.Role > RoleAdmin {
			errs = append(errs, fmt.Errorf("Tokens[%d]: role %v is not read, write or admin", i, t.Role))
		}
		if seen[t.Secret] {
			errs = append(errs, fmt.Errorf("Tokens[%d]: listed twice", i))
		}
		seen[t.Secret] = true
	}
	if len(errs) == 0 {
		return nil
	}
	return fmt.Errorf("serving: invalid config: %w", errors.Join(errs...))
}

// ModelInfo describes one stored model version for GET /v1/models.
type ModelInfo struct {
	Version     string             `json:"version"`
	CreatedAt   time.Time          `json:"created_at"`
	AsOf        time.Time          `json:"as_of"`
	HorizonDays int                `json:"horizon_days"`
	Users       int                `json:"users"`
	Metrics     map[string]float64 `json:"metrics,omitempty"`
	Active      bool               `json:"active"`
}

// ModelStore holds the model versions and the active pointer.
type ModelStore interface {
	// ActiveModel returns the active model, prepared; nil and no error
	// when no model has been activated yet.
	ActiveModel(ctx context.Context) (*model.Model, error)
	// Model returns a stored version, prepared; nil and no error when
	// there is no such version.
	Model(ctx context.Context, version string) (*model.Model, error)
	// ListModels returns every stored version, newest first.
	ListModels(ctx context.Context) ([]ModelInfo, error)
	// Activate makes a stored version the active one, durably.
	Activate(ctx context.Context, version string) error
}

// UserStore holds per-user data: the live feature state, the score
// records written by training, opt-outs, and erasure.
type UserStore interface {
	// LoadUsers calls fn once for each of ids, in order, inside one read
	// transaction, with the user's encoded features.State (nil when none
	// is stored) and, only when no state is stored, the score record of
	// model version (nil when none): a state supersedes the record, so
	// implementations need not decode it. state is valid only during the
	// call. An error from fn stops the loop and is returned.
	LoadUsers(ctx context.Context, version string, ids []string, fn func(i int, state []byte, score *model.Prediction) error) error
	// UpdateStates replaces the state of each of ids under model version
	// with fn(i, old), where old is the stored encoded state or nil (valid
	// only during the call), inside one write transaction that is durable
	// when UpdateStates returns nil. When fn or the commit fails, nothing
	// is written and the error is returned. fn may be called more than once
	// for the same i (the store may retry a group commit) and must depend
	// only on i and old; calls are never concurrent, and the returned
	// bytes must stay valid until UpdateStates returns.
	UpdateStates(ctx context.Context, version string, ids []string, fn func(i int, old []byte) ([]byte, error)) error
	// DeleteUser erases everything stored about a user: state, score
	// records, opt-out and experiment assignments. It reports whether
	// anything was stored.
	DeleteUser(ctx context.Context, id string) (bool, error)
	// OptOut records that a user opted out of marketing exports; it is
	// idempotent and works for users not seen yet.
	OptOut(ctx context.Context, id string) error
}

// SegmentStore gives the score records of a model version in user-id
// order, and what segment exports must leave out.
type SegmentStore interface {
	// EachScore calls fn with every score record of version whose user id
	// sorts after after ("" starts at the first), in user-id order,
	// inside one read transaction. An error from fn stops the scan and is
	// returned.
	EachScore(ctx context.Context, version, after string, fn func(id string, p *model.Prediction) error) error
	// LoadScores calls fn once for each of ids, in order, inside one read
	// transaction, with the user's score record of version (nil when
	// none).
	LoadScores(ctx context.Context, version string, ids []string, fn func(i int, score *model.Prediction) error) error
	// Suppressed sets out[i] when ids[i] must be left out of exports: the
	// user opted out, or is held out as control by an active experiment
	// or by the global control group. len(out) == len(ids).
	Suppressed(ctx context.Context, ids []string, out []bool) error
}

// Deps are the stores the server reads and writes. *store.Store (package
// serving/store) satisfies each of them through the wiring in cmd/lapse.
type Deps struct {
	Models   ModelStore
	Users    UserStore
	Segments SegmentStore
	// Experiments holds the experiments; nil makes the /v1/experiments
	// routes answer 503 (unavailable).
	Experiments ExperimentStore
}

// Server is the HTTP API of lapse. Make one with New; it is safe for
// concurrent use.
type Server struct {
	cfg     Config
	deps    Deps
	log     *slog.Logger
	auth    *authenticator
	metrics *metrics
	engine  *gin.Engine
	routes  []route

	// active is the model requests score with. A request loads it once and
	// keeps that pointer, so it finishes on the model it started with even
	// when another request activates a new version meanwhile.
	active   atomic.Pointer[activeModel]
	activeMu sync.Mutex // serialises loading and activation
}

// activeModel is a prepared model with the Featurizer of its Spec and the
// segment sizes of its stored scores, computed on first use.
type activeModel struct {
	m *model.Model
	f *features.Featurizer
	// scratch pools the *scorer of requests scoring with this model.
	scratch sync.Pool

	sizesMu sync.Mutex
	sizes   []SegmentFamily
}

// newActive prepares m for serving.
func newActive(m *model.Model) (*activeModel, error) {
	var spec features.Spec
	if err := json.Unmarshal(m.Spec, &spec); err != nil {
		return nil, fmt.Errorf("serving: model %s: feature spec: %w", m.Version, err)
	}
	f, err := features.NewFeaturizer(&spec)
	if err != nil {
		return nil, fmt.Errorf("serving: model %s: %w", m.Version, err)
	}
	if got := f.Names(); !equalStrings(got, m.Features) {
		return nil, fmt.Errorf("serving: model %s: spec computes %d features, the model scores %d: %w",
			m.Version, len(got), len(m.Features), model.ErrInvalid)
	}
	return &activeModel{m: m, f: f}, nil
}

func equalStrings(a, b []string) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

// New returns a Server over deps. Zero fields of cfg take their defaults;
// a nil log discards. New does no I/O: call Load to read the active model.
// It panics when cfg fails Validate or a dependency is nil: both are
// programmer errors that cmd/lapse checks first.
func New(cfg Config, deps Deps, log *slog.Logger) *Server {
	if err := cfg.Validate(); err != nil {
		panic(err.Error())
	}
	if deps.Models == nil || deps.Users == nil || deps.Segments == nil {
		panic("serving: New needs the model, user and segment stores")
	}
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	s := &Server{
		cfg:     cfg.withDefaults(),
		deps:    deps,
		log:     log,
		auth:    newAuthenticator(cfg.Tokens),
		metrics: newMetrics(),
	}
	s.routes = s.routeTable()
	s.engine = s.newEngine()
	return s
}

// route is one entry of the route table: the only place routes are
// declared. The OpenAPI test reads it through Routes.
type route struct {
	method, path string // gin syntax: /v1/users/:id
	role         Role
	handle       func(c *gin.Context) error
}

// routeTable lists every route. To add endpoints, append here and
// describe them in openapi.yaml; TestOpenAPIMatchesRoutes checks both.
func (s *Server) routeTable() []route {
	return []route{
		{http.MethodGet, "/healthz", RoleNone, s.healthz},
		{http.MethodGet, "/readyz", RoleNone, s.readyz},
		{http.MethodGet, "/metrics", RoleNone, s.serveMetrics},
		{http.MethodGet, "/openapi.yaml", RoleNone, s.serveOpenAPI},

		{http.MethodGet, "/v1/users/:id", RoleRead, s.getUser},
		{http.MethodPost, "/v1/scores", RoleRead, s.postScores},
		{http.MethodPost, "/v1/events", RoleWrite, s.postEvents},
		{http.MethodGet, "/v1/segments", RoleRead, s.getSegments},
		{http.MethodGet, "/v1/segments/:family/:name/users", RoleRead, s.getSegmentUsers},
		{http.MethodPost, "/v1/users/:id/opt-out", RoleWrite, s.postOptOut},
		{http.MethodDelete, "/v1/users/:id", RoleAdmin, s.deleteUser},
		{http.MethodGet, "/v1/models", RoleAdmin, s.getModels},
		{http.MethodPost, "/v1/models/:version/activate", RoleAdmin, s.postActivate},
		{http.MethodPost, "/v1/experiments", RoleAdmin, s.postExperiment},
		{http.MethodGet, "/v1/experiments", RoleRead, s.getExperiments},
		{http.MethodGet, "/v1/experiments/:name", RoleRead, s.getExperiment},
		{http.MethodGet, "/v1/experiments/:name/assignments", RoleRead, s.getAssignments},
		{http.MethodGet, "/v1/experiments/:name/lift", RoleRead, s.getLift},
		{http.MethodPost, "/v1/experiments/:name/stop", RoleAdmin, s.postStopExperiment},
	}
}

// RouteInfo describes one registered route.
type RouteInfo struct {
	// Method is the HTTP method.
	Method string
	// Path is the OpenAPI path template, e.g. /v1/users/{id}.
	Path string
	// Role is the least role whose token may call the route.
	Role Role
}

// Routes returns the registered routes, in table order.
func (s *Server) Routes() []RouteInfo {
	out := make([]RouteInfo, len(s.routes))
	for i, r := range s.routes {
		out[i] = RouteInfo{Method: r.method, Path: openAPIPath(r.path), Role: r.role}
	}
	return out
}

// openAPIPath turns gin's /v1/users/:id into /v1/users/{id}.
func openAPIPath(p string) string {
	parts := strings.Split(p, "/")
	for i, s := range parts {
		if strings.HasPrefix(s, ":") || strings.HasPrefix(s, "*") {
			parts[i] = "{" + s[1:] + "}"
		}
	}
	return strings.Join(parts, "/")
}

// newEngine builds the gin engine: release mode, no default middleware,
// JSON 404 and 405, escaped paths (so %2F may appear inside a user id).
func (s *Server) newEngine() *gin.Engine {
	gin.SetMode(gin.ReleaseMode)
	e := gin.New()
	e.HandleMethodNotAllowed = true
	e.UseEscapedPath = true
	e.UnescapePathValues = true
	e.RedirectTrailingSlash = false
	e.RedirectFixedPath = false
	e.ContextWithFallback = true
	e.Use(s.metrics.observe, s.recoverPanic, s.limitBody)
	e.NoRoute(s.wrap(func(c *gin.Context) error {
		return Errorf(CodeNotFound, "no route %s %s", c.Request.Method, c.Request.URL.Path)
	}))
	e.NoMethod(s.wrap(func(c *gin.Context) error {
		return Errorf(CodeMethodNotAllowed, "%s is not allowed on %s", c.Request.Method, c.Request.URL.Path)
	}))
	for _, r := range s.routes {
		if r.role == RoleNone {
			e.Handle(r.method, r.path, s.wrap(r.handle))
		} else {
			e.Handle(r.method, r.path, s.authorize(r.role), s.wrap(r.handle))
		}
	}
	return e
}

// Handler returns the API as an http.Handler.
func (s *Server) Handler() http.Handler { return s.engine }

// wrap adapts a handler that returns an error: the error is written in the
// one JSON error shape with the status of its code; internal errors are
// logged with the route, never shown.
func (s *Server) wrap(h func(c *gin.Context) error) gin.HandlerFunc {
	return func(c *gin.Context) {
		if err := h(c); err != nil {
			s.fail(c, err)
		}
	}
}

// fail writes err as the response, unless a response was already started.
func (s *Server) fail(c *gin.Context, err error) {
	code := ErrorCode(err)
	if code == CodeInternal {
		if errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
			err = &Error{Code: CodeUnavailable, Message: "the request was cancelled or timed out"}
			code = CodeUnavailable
		} else {
			s.log.Error("request failed", "route", c.FullPath(), "method", c.Request.Method, "err", err)
		}
	}
	if code == CodeUnauthorized {
		c.Header("WWW-Authenticate", `Bearer realm="lapse"`)
	}
	if c.Writer.Written() {
		return
	}
	c.Header("Cache-Control", "no-store")
	c.AbortWithStatusJSON(code.Status(), bodyOf(err))
}

// recoverPanic turns a handler panic into a logged 500, so no request can
// take the process down.
func (s *Server) recoverPanic(c *gin.Context) {
	defer func() {
		if v := recover(); v != nil {
			if v == http.ErrAbortHandler {
				panic(v)
			}
			s.fail(c, fmt.Errorf("serving: panic: %v", v))
		}
	}()
	c.Next()
}

// limitBody caps every request body at MaxBodyBytes: a declared length
// over the limit is refused at once, and reading past it fails with
// *http.MaxBytesError, which readBody turns into 413.
func (s *Server) limitBody(c *gin.Context) {
	if c.Request.ContentLength > s.cfg.MaxBodyBytes {
		s.fail(c, Errorf(CodeTooLarge, "request body of %d bytes exceeds the limit of %d bytes",
			c.Request.ContentLength, s.cfg.MaxBodyBytes))
		c.Abort()
		return
	}
	c.Request.Body = http.MaxBytesReader(c.Writer, c.Request.Body, s.cfg.MaxBodyBytes)
	c.Next()
}

// authorize checks the bearer token against the route's role. With no
// tokens configured every request is allowed.
func (s *Server) authorize(need Role) gin.HandlerFunc {
	return func(c *gin.Context) {
		if !s.auth.enabled() {
			c.Next()
			return
		}
		h := c.GetHeader("Authorization")
		if h == "" {
			s.fail(c, Errorf(CodeUnauthorized, "this route needs a bearer token with role %s or higher", need))
			c.Abort()
			return
		}
		role, ok := s.auth.role(h)
		if !ok {
			s.fail(c, Errorf(CodeUnauthorized, "unknown bearer token"))
			c.Abort()
			return
		}
		if role < need {
			s.fail(c, Errorf(CodeForbidden, "this route needs role %s or higher; the token has role %s", need, role))
			c.Abort()
			return
		}
		c.Next()
	}
}

// readBody reads the whole (limited) request body.
func readBody(c *gin.Context) ([]byte, error) {
	b, err := io.ReadAll(c.Request.Body)
	if err != nil {
		var mb *http.MaxBytesError
		if errors.As(err, &mb) {
			return nil, Errorf(CodeTooLarge, "request body exceeds the limit of %d bytes", mb.Limit)
		}
		return nil, Errorf(CodeInvalid, "reading the request body: %v", err)
	}
	return b, nil
}

// Load reads the active model from the store and makes it the one
// requests use. With no active model it returns nil and the server
// answers 503 (no_model) until a model is activated through the API.
func (s *Server) Load(ctx context.Context) error {
	s.activeMu.Lock()
	defer s.activeMu.Unlock()
	m, err := s.deps.Models.ActiveModel(ctx)
	if err != nil {
		return fmt.Errorf("serving: load active model: %w", err)
	}
	if m == nil {
		s.active.Store(nil)
		s.metrics.setModel("")
		return nil
	}
	a, err := newActive(m)
	if err != nil {
		return err
	}
	s.active.Store(a)
	s.metrics.setModel(m.Version)
	s.log.Info("model loaded", "model_version", m.Version, "as_of", m.AsOf, "features", len(m.Features))
	return nil
}

// ActiveVersion returns the version requests are scored with, or "".
func (s *Server) ActiveVersion() string {
	if a := s.active.Load(); a != nil {
		return a.m.Version
	}
	return ""
}

// model returns the active model or the 503 that says to train one.
func (s *Server) model() (*activeModel, error) {
	a := s.active.Load()
	if a == nil {
		return nil, Errorf(CodeNoModel, "no model is active: run `lapse train --store FILE` (with the server stopped), then start lapse serve again, or activate a stored version with POST /v1/models/{version}/activate")
	}
	return a, nil
}

// Serve answers requests on ln until ctx is cancelled, then shuts down
// gracefully: it stops accepting, lets in-flight requests finish for up to
// ShutdownTimeout, and returns. It refuses a non-loopback listener when no
// token is configured (ErrInsecureAddr). The caller closes the store after
// Serve returns.
func (s *Server) Serve(ctx context.Context, ln net.Listener) error {
	if err := CheckListener(ln, s.auth.enabled()); err != nil {
		ln.Close()
		return err
	}
	srv := &http.Server{
		Handler:           s.engine,
		ReadHeaderTimeout: s.cfg.ReadHeaderTimeout,
		ReadTimeout:       s.cfg.ReadTimeout,
		WriteTimeout:      s.cfg.WriteTimeout,
		IdleTimeout:       s.cfg.IdleTimeout,
		MaxHeaderBytes:    64 << 10,
		ErrorLog:          slog.NewLogLogger(s.log.Handler(), slog.LevelWarn),
		BaseContext:       func(net.Listener) context.Context { return context.WithoutCancel(ctx) },
	}
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	select {
	case err := <-errc:
		return fmt.Errorf("serving: %w", err)
	case <-ctx.Done():
	}
	s.log.Info("shutting down: draining in-flight requests", "timeout", s.cfg.ShutdownTimeout)
	sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), s.cfg.ShutdownTimeout)
	defer cancel()
	err := srv.Shutdown(sctx)
	if serr := <-errc; serr != nil && !errors.Is(serr, http.ErrServerClosed) && err == nil {
		err = serr
	}
	if err != nil {
		return fmt.Errorf("serving: shutdown: %w", err)
	}
	return nil
}
