package serving

import (
	"net/http"
	"strconv"
	"time"

	"github.com/gin-gonic/gin"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// metrics are the server's Prometheus series, in a registry of its own (never
// the global one), so two Servers in one process do not collide.
type metrics struct {
	reg       *prometheus.Registry
	requests  *prometheus.CounterVec   // route, method, status
	latency   *prometheus.HistogramVec // route, method, status
	events    prometheus.Counter
	rejected  prometheus.Counter
	scores    prometheus.Counter
	modelInfo *prometheus.GaugeVec // version
}

func newMetrics() *metrics {
	m := &metrics{
		reg: prometheus.NewRegistry(),
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "lapse_http_requests_total",
			Help: "HTTP requests answered, by route pattern, method and status.",
		}, []string{"route", "method", "status"}),
		latency: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "lapse_http_request_duration_seconds",
			Help:    "Time from routing to the last byte of the response, by route pattern, method and status.",
			Buckets: []float64{.0001, .00025, .0005, .001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10},
		}, []string{"route", "method", "status"}),
		events: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "lapse_events_ingested_total",
			Help: "Events accepted by POST /v1/events and stored.",
		}),
		rejected: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "lapse_events_rejected_total",
			Help: "Events in batches that POST /v1/events rejected (the whole batch is refused).",
		}),
		scores: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "lapse_scores_served_total",
			Help: "User scores returned by GET /v1/users/{id} and POST /v1/scores.",
		}),
		modelInfo: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "lapse_active_model_info",
			Help: "1 for the active model version; no series while no model is loaded.",
		}, []string{"version"}),
	}
	m.reg.MustRegister(m.requests, m.latency, m.events, m.rejected, m.scores, m.modelInfo,
		collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	return m
}

// setModel makes version the one active-model series.
func (m *metrics) setModel(version string) {
	m.modelInfo.Reset()
	if version != "" {
		m.modelInfo.WithLabelValues(version).Set(1)
	}
}

// handler serves the registry in the Prometheus text format.
func (m *metrics) handler() http.Handler {
	return promhttp.HandlerFor(m.reg, promhttp.HandlerOpts{Registry: m.reg})
}

// unmatchedRoute is the route label of requests that matched no route, so
// that scanning for random paths cannot create unbounded series.
const unmatchedRoute = "unmatched"

// observe is the middleware that counts every request and times it.
func (m *metrics) observe(c *gin.Context) {
	start := time.Now()
	c.Next()
	route := c.FullPath()
	if route == "" {
		route = unmatchedRoute
	}
	method := c.Request.Method
	if !knownMethod(method) {
		method = "other"
	}
	status := strconv.Itoa(c.Writer.Status())
	m.requests.WithLabelValues(route, method, status).Inc()
	m.latency.WithLabelValues(route, method, status).Observe(time.Since(start).Seconds())
}

// knownMethod bounds the method label to the standard methods.
func knownMethod(m string) bool {
	switch m {
	case http.MethodGet, http.MethodHead, http.MethodPost, http.MethodPut, http.MethodPatch,
		http.MethodDelete, http.MethodOptions:
		return true
	}
	return false
}
