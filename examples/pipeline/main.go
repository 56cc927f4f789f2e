// Command pipeline records what a training and forecasting job produces
// (an experiment, the model it trained, that model's predictions) in arbor
// over NATS request/reply, and prints the ids arbor gave them. It needs
// nothing but the standard library and nats.go: copy it into a pipeline.
//
//	go run ./examples/pipeline -nats nats://127.0.0.1:4222 -hierarchy ml_pipeline
//
// Each request goes to arbor-api.<create|update|delete|get|tree> with the
// JSON body of arbor's HTTP API. A success answers the artifact; an error
// answers with the header Nats-Service-Error-Code (the HTTP status) and a
// problem+json body saying what went wrong.
package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/nats-io/nats.go"
)

func main() {
	natsURL := flag.String("nats", "nats://127.0.0.1:4222", "the NATS server arbor serves on")
	hierarchy := flag.String("hierarchy", "ml_pipeline", "the hierarchy to record the experiment in")
	nkey := flag.String("nkey", "arbor-data/credentials/writer.nk", "the nkey seed to sign in with (make run makes it); empty: none")
	flag.Parse()
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	opts, err := signIn(*nkey)
	if err != nil {
		fmt.Fprintln(os.Stderr, "pipeline:", err)
		os.Exit(1)
	}
	if err := run(ctx, *natsURL, os.Stdout, *hierarchy, opts...); err != nil {
		fmt.Fprintln(os.Stderr, "pipeline:", err)
		os.Exit(1)
	}
}

// artifact is the part of arbor's answer this pipeline reads.
type artifact struct {
	ID        string  `json:"id"`
	ParentID  *string `json:"parent_id"`
	Level     int     `json:"level"`
	Hierarchy string  `json:"hierarchy"`
	Version   int     `json:"version"`
}

// createRequest is the body of arbor-api.create.
type createRequest struct {
	ParentID  string         `json:"parent_id,omitempty"`
	Hierarchy string         `json:"hierarchy,omitempty"`
	Tags      []string       `json:"tags,omitempty"`
	Data      map[string]any `json:"data"`
}

// problem is an error reply: Status from the Nats-Service-Error-Code
// header, the rest from the RFC 9457 problem in the body.
type problem struct {
	Status int
	Type   string `json:"type"`
	Title  string `json:"title"`
	Detail string `json:"detail"`
	Errors []struct {
		Field  string `json:"field"`
		Reason string `json:"reason"`
	} `json:"errors"`
}

func (p *problem) Error() string {
	return fmt.Sprintf("%d %s: %s", p.Status, p.Title, p.Detail)
}

// Retry reports whether sending the same request again is safe and may
// succeed: arbor was starting up or could not reach its log, and wrote
// nothing. Another 503 (a write that may have been, or was, recorded) wants
// a read first; anything 4xx needs a different request.
func (p *problem) Retry() bool { return p.Type == "urn:servicekit:error:unavailable" }

// call sends body to arbor-api.<endpoint> and decodes the answer into out.
// An error reply is returned as a *problem.
func call(ctx context.Context, nc *nats.Conn, endpoint string, body, out any) error {
	data, err := json.Marshal(body)
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	msg, err := nc.RequestWithContext(ctx, "arbor-api."+endpoint, data)
	if errors.Is(err, nats.ErrNoResponders) {
		return fmt.Errorf("%s: no arbor answers on this NATS server (is `make run` going?)", endpoint)
	}
	if err != nil {
		return fmt.Errorf("%s: %w", endpoint, err)
	}
	if code := msg.Header.Get("Nats-Service-Error-Code"); code != "" {
		p := &problem{}
		if json.Unmarshal(msg.Data, p) != nil || p.Detail == "" {
			p.Detail = msg.Header.Get("Nats-Service-Error")
		}
		p.Status, _ = strconv.Atoi(code)
		return p
	}
	if out == nil {
		return nil
	}
	return json.Unmarshal(msg.Data, out)
}

func create(ctx context.Context, nc *nats.Conn, req createRequest) (artifact, error) {
	var a artifact
	err := call(ctx, nc, "create", req, &a)
	return a, err
}

// run records an experiment, a model under it and two predictions under
// the model, printing "<what> <id>" for each, then shows how an error
// reply reads.
func run(ctx context.Context, natsURL string, out io.Writer, hierarchy string, opts ...nats.Option) error {
	nc, err := nats.Connect(natsURL, append(opts, nats.Name("arbor example pipeline"))...)
	if err != nil {
		return fmt.Errorf("connect to %s: %w", natsURL, err)
	}
	defer nc.Close()

	exp, err := create(ctx, nc, createRequest{
		Hierarchy: hierarchy, Tags: []string{"example"},
		Data: map[string]any{"experiment_name": "weather_forecast"},
	})
	if err != nil {
		return fmt.Errorf("record the experiment: %w", err)
	}
	fmt.Fprintln(out, "experiment", exp.ID)

	model, err := create(ctx, nc, createRequest{
		ParentID: exp.ID,
		Data:     map[string]any{"model_type": "LinearRegression", "metrics": map[string]any{"rmse": 0.25}},
	})
	if err != nil {
		return fmt.Errorf("record the model: %w", err)
	}
	fmt.Fprintln(out, "model", model.ID)

	for i, day := range []string{"2026-11-27", "2026-11-28"} {
		pred, err := create(ctx, nc, createRequest{
			ParentID: model.ID,
			Data:     map[string]any{"prediction_date": day, "num_predictions": 1000 - 100*i},
		})
		if err != nil {
			return fmt.Errorf("record the predictions of %s: %w", day, err)
		}
		fmt.Fprintln(out, "prediction", pred.ID)
	}

	// An error reply: lineage is kept, so an experiment with a model under
	// it cannot be deleted. arbor answers 409 with a problem; a validation
	// error (422) would also name the fields in p.Errors.
	err = call(ctx, nc, "delete", map[string]string{"id": exp.ID}, nil)
	var p *problem
	switch {
	case errors.As(err, &p) && p.Status == 409:
		fmt.Fprintf(out, "refused %d %s: %s\n", p.Status, p.Type, p.Detail)
	case errors.As(err, &p):
		var fields []string
		for _, f := range p.Errors {
			fields = append(fields, f.Field+": "+f.Reason)
		}
		return fmt.Errorf("delete the experiment: %w (retry: %v) %s", p, p.Retry(), strings.Join(fields, "; "))
	case err != nil:
		return fmt.Errorf("delete the experiment: %w", err)
	default:
		return fmt.Errorf("arbor deleted experiment %s though it has a model", exp.ID)
	}
	return nil
}

// signIn is how to sign in with the nkey seed in file: arbor's embedded
// NATS server lets no one in without a key. Empty file: no key.
func signIn(file string) ([]nats.Option, error) {
	if file == "" {
		return nil, nil
	}
	opt, err := nats.NkeyOptionFromSeed(file)
	if err != nil {
		return nil, fmt.Errorf("-nkey %s: %w", file, err)
	}
	return []nats.Option{opt}, nil
}
