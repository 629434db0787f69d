// Package metrics holds the Prometheus metrics of the gateway, served on
// its admin port.
package metrics

import (
	"net/http"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// Metrics records the requests the gateway handles. Its methods are safe
// for concurrent use.
type Metrics struct {
	reg            *prometheus.Registry
	requests       *prometheus.CounterVec
	duration       *prometheus.HistogramVec
	upstreamErrors *prometheus.CounterVec
}

// New returns the metrics in a registry of their own, with the Go runtime
// and process collectors.
func New() *Metrics {
	m := &Metrics{
		reg: prometheus.NewRegistry(),
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "gateway_requests_total",
			Help: "Requests handled, by procedure, protocol (connect, grpc, grpcweb, http) and code.",
		}, []string{"procedure", "protocol", "code"}),
		duration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "gateway_request_duration_seconds",
			Help:    "Request latency as the gateway sees it, by procedure, protocol and code.",
			Buckets: []float64{.001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10},
		}, []string{"procedure", "protocol", "code"}),
		upstreamErrors: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "gateway_upstream_errors_total",
			Help: "Errors the gateway produced while proxying, by upstream and code: unavailable (refused, reset), deadline_exceeded (timeouts), resource_exhausted (body limit), canceled.",
		}, []string{"upstream", "code"}),
	}
	m.reg.MustRegister(m.requests, m.duration, m.upstreamErrors,
		collectors.NewGoCollector(),
		collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	return m
}

// ObserveRequest records one finished request.
func (m *Metrics) ObserveRequest(procedure, protocol, code string, d time.Duration) {
	m.requests.WithLabelValues(procedure, protocol, code).Inc()
	m.duration.WithLabelValues(procedure, protocol, code).Observe(d.Seconds())
}

// UpstreamError records an error the gateway produced for a call to
// upstream.
func (m *Metrics) UpstreamError(upstream, code string) {
	m.upstreamErrors.WithLabelValues(upstream, code).Inc()
}

// Handler serves the metrics in the Prometheus text format.
func (m *Metrics) Handler() http.Handler {
	return promhttp.HandlerFor(m.reg, promhttp.HandlerOpts{Registry: m.reg})
}
