package admin

import (
	"net/http"

	"github.com/caddy-webhooks/caddy-webhooks/caddymodule"
	"github.com/caddy-webhooks/caddy-webhooks/learn"
)

// learnHandler is a route handler of learn mode.
type learnHandler func(w http.ResponseWriter, r *http.Request, l *caddymodule.Learner)

// withLearner finds learn mode's model, or answers 404 saying how to turn
// it on.
func withLearner(h learnHandler) http.HandlerFunc {
	return withRunningApp(func(w http.ResponseWriter, r *http.Request, app webhooksApp) {
		l := app.Learner()
		if l == nil {
			writeError(w, http.StatusNotFound, "learn mode is off: add `learn` to a webhooks block of the Caddyfile (\"learn\": true in JSON) and reload", nil)
			return
		}
		h(w, r, l)
	})
}

// learnedView is what learn mode observed.
type learnedView struct {
	Observed   int64         `json:"observed"`    // exchanges given to the model
	SampledOut int64         `json:"sampled_out"` // let through unobserved, over the rate
	Model      *learn.Report `json:"model"`
}

// learned answers what learn mode observed, with counts.
func learned(w http.ResponseWriter, _ *http.Request, l *caddymodule.Learner) {
	observed, sampled := l.Observed()
	writeJSON(w, http.StatusOK, learnedView{Observed: observed, SampledOut: sampled, Model: l.Model.Report()})
}

// proposal answers the rule file proposed from what was observed.
func proposal(w http.ResponseWriter, _ *http.Request, l *caddymodule.Learner) {
	w.Header().Set("Content-Type", "application/yaml; charset=utf-8")
	w.Header().Set("Content-Disposition", `attachment; filename="rules.yaml"`)
	w.Header().Set("Cache-Control", "no-store")
	_, _ = w.Write(l.Model.Rules())
}

// forget starts learning afresh.
func forget(w http.ResponseWriter, _ *http.Request, l *caddymodule.Learner) {
	l.Reset()
	w.WriteHeader(http.StatusNoContent)
}
