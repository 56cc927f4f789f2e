// Package api is what arbor's transports share: the request bodies and
// their decoding into commands and queries, id parsing, If-Match and the
// consistency headers, the artifact views clients see, problems with the
// one table that turns an error into one, and waiting for a position.
// httpapi and natsapi import it and never each other, so a request
// answers the same over HTTP and over NATS.
package api
