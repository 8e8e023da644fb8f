"""The simulator's HTTPS face, as pveproxy's: the server, authentication, certificates, the
wire format of requests and answers, and the request log."""
