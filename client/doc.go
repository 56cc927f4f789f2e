// Package client is a Go client for arbor's HTTP API: artifacts and their
// trees, content upload and download, statistics, health, and the live
// feed of events.
//
// The past is kept: History lists an artifact's versions and GetVersion
// reads one; the reads take AsOf (a log position or a time) for the state
// as it was then. ListWith selects (hierarchy, level, parent, tags, times,
// a CEL filter), sorts and pages by cursor. A write sent with
// IdempotencyKey is done once, however often it is sent.
//
// A Client is safe for concurrent use. It remembers the highest log
// position its writes have answered with (the Arbor-Position header) and
// sends it as Arbor-Min-Position on later requests, so that a client whose
// requests are spread over several arbor instances behind a load balancer
// still reads its own writes.
//
// Errors from the server are *Problem values (RFC 9457), usable with
// errors.As or the helpers IsNotFound, IsConflict, IsPreconditionFailed,
// IsUnauthorized and IsForbidden.
//
// An arbor that requires API keys gets one with WithAPIKey:
// client.New(url, client.WithAPIKey(os.Getenv("ARBOR_API_KEY"))).
//
// An example:
//
//	c := client.New("http://127.0.0.1:8000")
//	exp, err := c.Create(ctx, client.CreateRequest{
//		Data: map[string]any{"experiment_name": "weather_forecast"},
//		Tags: []string{"exp-1"},
//	})
//	if err != nil {
//		return err
//	}
//	model, err := c.Create(ctx, client.CreateRequest{
//		ParentID: exp.ID,
//		Data:     json.RawMessage(`{"model_type": "LinearRegression"}`),
//	})
//	if err != nil {
//		return err
//	}
//	tree, err := c.Tree(ctx, exp.ID, -1) // the whole subtree
//	if err != nil {
//		return err
//	}
//	fmt.Println(tree.LevelLabel, len(tree.Children), model.Level)
//
//	// Every new prediction, resuming across dropped connections.
//	for ev, err := range c.Events(ctx, client.EventFilter{LevelLabel: "predictions", Type: "created"}, nil) {
//		if err != nil {
//			return err
//		}
//		fmt.Println(ev.Seq, ev.Subject)
//	}
package client
