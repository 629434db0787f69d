// Package metrics holds the Prometheus metrics of the auth service, served
// on the admin port.
package metrics

import (
	"database/sql"
	"net/http"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// Metrics records what the service does. Its methods are safe for
// concurrent use.
type Metrics struct {
	reg          *prometheus.Registry
	rpcs         *prometheus.CounterVec
	rpcDuration  *prometheus.HistogramVec
	inFlight     prometheus.Gauge
	hashWaiting  prometheus.Gauge
	hashRejected prometheus.Counter
}

// New returns metrics in a registry of their own, with the Go runtime and
// process collectors, and the connection pool statistics of db.
func New(db *sql.DB) *Metrics {
	m := &Metrics{
		reg: prometheus.NewRegistry(),
		rpcs: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "authsvc_rpc_requests_total",
			Help: "RPCs handled, by procedure, protocol (connect, grpc, grpcweb) and code.",
		}, []string{"procedure", "protocol", "code"}),
		rpcDuration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "authsvc_rpc_duration_seconds",
			Help:    "RPC latency, by procedure, protocol and code.",
			Buckets: []float64{.001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10},
		}, []string{"procedure", "protocol", "code"}),
		inFlight: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "authsvc_rpc_in_flight",
			Help: "RPCs being handled now.",
		}),
		hashWaiting: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "authsvc_password_hash_queue_depth",
			Help: "Calls waiting for a password hashing slot.",
		}),
		hashRejected: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "authsvc_password_hash_rejected_total",
			Help: "Calls turned away with resource_exhausted because no hashing slot freed in time.",
		}),
	}
	m.reg.MustRegister(m.rpcs, m.rpcDuration, m.inFlight, m.hashWaiting, m.hashRejected,
		collectors.NewGoCollector(),
		collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}),
		collectors.NewDBStatsCollector(db, "authsvc"),
	)
	return m
}

// ObserveRPC records one finished RPC.
func (m *Metrics) ObserveRPC(procedure, protocol, code string, d time.Duration) {
	m.rpcs.WithLabelValues(procedure, protocol, code).Inc()
	m.rpcDuration.WithLabelValues(procedure, protocol, code).Observe(d.Seconds())
}

// InFlight adds delta to the RPCs being handled.
func (m *Metrics) InFlight(delta int) { m.inFlight.Add(float64(delta)) }

// HashQueue records the number of calls waiting for a hashing slot.
func (m *Metrics) HashQueue(waiting int) { m.hashWaiting.Set(float64(waiting)) }

// HashRejected records a call turned away for lack of hashing capacity.
func (m *Metrics) HashRejected() { m.hashRejected.Inc() }

// Handler serves the metrics in the Prometheus text format.
func (m *Metrics) Handler() http.Handler {
	return promhttp.HandlerFor(m.reg, promhttp.HandlerOpts{Registry: m.reg})
}
