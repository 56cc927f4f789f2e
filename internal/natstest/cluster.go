package natstest

import (
	"context"
	"fmt"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"arbor/internal/natsserver"
)

// clusterWait bounds every wait for the cluster to settle. A fresh meta
// group only holds its first election after a random 4-9 s timeout, so
// this must be well above that.
const clusterWait = 20 * time.Second

// Cluster is n JetStream servers clustered over loopback, each with its own
// store in a t.TempDir. Servers are named n0, n1, ... and indexed from 0.
// Its methods may be called from several goroutines.
type Cluster struct {
	opts []natsserver.Options // fixed ports and dirs, reused by Restart
	urls []string             // client URLs, one per server

	mu      sync.Mutex
	servers []*server.Server // the latest server started at each index
}

// StartCluster starts n clustered JetStream servers, shut down when the
// test ends; n must be at least 2 (for one server, use Server). It returns once a JetStream meta leader is elected, it counts
// all n servers as peers, every server is current, and a client can read
// its account info; otherwise it fails the test.
func StartCluster(t testing.TB, n int) *Cluster {
	t.Helper()
	// A lone server routed only to itself never elects a meta leader.
	if n < 2 {
		t.Fatalf("StartCluster(%d): need at least 2 servers", n)
	}
	// Every route must be known before any server starts, so ports are
	// reserved up front. The listeners stay open until all are picked so
	// the kernel cannot hand out the same port twice.
	ports := freePorts(t, 2*n)
	c := &Cluster{servers: make([]*server.Server, n)}
	routes := make([]string, n)
	for i := range n {
		routes[i] = fmt.Sprintf("nats-route://127.0.0.1:%d", ports[n+i])
	}
	for i := range n {
		c.urls = append(c.urls, fmt.Sprintf("nats://127.0.0.1:%d", ports[i]))
		c.opts = append(c.opts, natsserver.Options{
			Name:     fmt.Sprintf("n%d", i),
			StoreDir: t.TempDir(),
			Listen:   fmt.Sprintf("127.0.0.1:%d", ports[i]),
			Cluster: &natsserver.ClusterOptions{
				Name:   "arbor-test",
				Listen: fmt.Sprintf("127.0.0.1:%d", ports[n+i]),
				Routes: routes,
			},
		})
	}
	// Registered before the servers start so that a failure half way
	// still shuts down those already running.
	t.Cleanup(func() {
		for i := range n {
			c.Kill(i)
		}
	})
	for i := range n {
		c.start(t, i)
	}
	c.waitReady(t)
	return c
}

// freePorts returns k distinct loopback ports that were free a moment ago.
func freePorts(t testing.TB, k int) []int {
	t.Helper()
	ports := make([]int, k)
	for i := range ports {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatalf("reserve port: %v", err)
		}
		defer l.Close()
		ports[i] = l.Addr().(*net.TCPAddr).Port
	}
	return ports
}

func (c *Cluster) start(t testing.TB, i int) {
	t.Helper()
	s, err := natsserver.Start(c.opts[i])
	if err != nil {
		t.Fatalf("start nats server %s: %v", c.opts[i].Name, err)
	}
	c.mu.Lock()
	c.servers[i] = s
	c.mu.Unlock()
}

// waitReady waits until the running servers form a JetStream cluster with
// all n peers, each current with the meta leader, and a client gets
// account info.
func (c *Cluster) waitReady(t testing.TB) {
	t.Helper()
	deadline := time.Now().Add(clusterWait)
	for !c.metaReady() {
		if time.Now().After(deadline) {
			t.Fatalf("no JetStream meta leader with %d current peers after %v", len(c.servers), clusterWait)
		}
		time.Sleep(25 * time.Millisecond)
	}
	nc, err := nats.Connect(c.URLs())
	if err != nil {
		t.Fatalf("connect nats cluster: %v", err)
	}
	defer nc.Close()
	js, err := jetstream.New(nc)
	if err != nil {
		t.Fatalf("jetstream: %v", err)
	}
	// The meta leader may know every peer before the JetStream API answers
	// for the account, so the check a client would make comes last.
	for {
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		_, err := js.AccountInfo(ctx)
		cancel()
		if err == nil {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("JetStream account info after %v: %v", clusterWait, err)
		}
		time.Sleep(25 * time.Millisecond)
	}
}

func (c *Cluster) metaReady() bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	var leader *server.Server
	for _, s := range c.servers {
		if s.Running() && s.JetStreamIsLeader() {
			leader = s
		}
	}
	if leader == nil || len(leader.JetStreamClusterPeers()) != len(c.servers) {
		return false
	}
	for _, s := range c.servers {
		if s.Running() && !s.JetStreamIsCurrent() {
			return false
		}
	}
	return true
}

// URLs returns the client URLs of all servers, comma-separated, as
// nats.Connect takes them. They stay valid across Kill and Restart.
func (c *Cluster) URLs() string {
	return strings.Join(c.urls, ",")
}

// Server returns the server last started at index i, which may have been
// shut down by Kill.
func (c *Cluster) Server(i int) *server.Server {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.servers[i]
}

// Connect opens a TCP client connection to server i, closed when the test
// ends. It knows the other servers too and reconnects forever, so it fails
// over when server i is killed.
func (c *Cluster) Connect(t testing.TB, i int) (*nats.Conn, jetstream.JetStream) {
	t.Helper()
	// Server i comes first and random ordering is off, so the connection
	// starts on i; the rest are only for failover.
	urls := append([]string{c.urls[i]}, c.urls[:i]...)
	urls = append(urls, c.urls[i+1:]...)
	nc, err := nats.Connect(strings.Join(urls, ","),
		nats.DontRandomize(),
		nats.MaxReconnects(-1),
		nats.ReconnectWait(50*time.Millisecond),
	)
	if err != nil {
		t.Fatalf("connect nats server n%d: %v", i, err)
	}
	t.Cleanup(nc.Close)
	js, err := jetstream.New(nc)
	if err != nil {
		t.Fatalf("jetstream: %v", err)
	}
	return nc, js
}

// StreamLeader returns the index of the server leading the stream in the
// global account, waiting until some running server does; it fails the
// test if none does in time.
func (c *Cluster) StreamLeader(t testing.TB, stream string) int {
	t.Helper()
	deadline := time.Now().Add(clusterWait)
	for {
		c.mu.Lock()
		for i, s := range c.servers {
			if s.Running() && s.JetStreamIsStreamLeader(server.DEFAULT_GLOBAL_ACCOUNT, stream) {
				c.mu.Unlock()
				return i
			}
		}
		c.mu.Unlock()
		if time.Now().After(deadline) {
			t.Fatalf("no leader for stream %q after %v", stream, clusterWait)
		}
		time.Sleep(25 * time.Millisecond)
	}
}

// Kill shuts server i down and waits until it has stopped. The server
// steps down from the Raft groups it leads first, as a real shutdown does,
// but clients see their connections drop. Killing a stopped server is a
// no-op.
func (c *Cluster) Kill(i int) {
	s := c.Server(i)
	if s == nil { // StartCluster failed before starting it
		return
	}
	s.Shutdown()
	s.WaitForShutdown()
}

// Restart starts server i again with its ports and store, after Kill. It
// waits until the cluster is ready again as StartCluster does, so the
// server has rejoined the meta group; its streams may still be catching up.
func (c *Cluster) Restart(t testing.TB, i int) {
	t.Helper()
	if c.Server(i).Running() {
		t.Fatalf("Restart(%d): server n%d is still running", i, i)
	}
	c.start(t, i)
	c.waitReady(t)
}
