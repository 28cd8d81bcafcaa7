#!/usr/bin/env python3
"""A small Azure Blob Storage stand-in for the agent's upload tests, over HTTPS on loopback.

usage: blob_server.py <cert.pem> <key.pem> <store dir> <container> <sig> <port file>

Answers the calls the agent makes: Put Blob (x-ms-blob-type BlockBlob with the content, or
AppendBlob empty) and Append Block (?comp=appendblock), 201 on success. A request without
`sig=<sig>` in its query gets 403 AuthenticationFailed, another container 404. Blobs land in
<store dir>/<blob name>, their headers in <blob name>.headers.json."""
import http.server
import json
import os
import ssl
import sys
import urllib.parse

cert, key, store, container, sig, port_file = sys.argv[1:7]


class Handler(http.server.BaseHTTPRequestHandler):
    def answer(self, status, code=None):
        self.send_response(status)
        if code:
            self.send_header('x-ms-error-code', code)
        self.send_header('Content-Length', '0')
        self.end_headers()

    def do_PUT(self):
        url = urllib.parse.urlsplit(self.path)
        query = urllib.parse.parse_qs(url.query)
        body = self.rfile.read(int(self.headers.get('Content-Length', '0')))
        if query.get('sig') != [sig]:
            return self.answer(403, 'AuthenticationFailed')
        parts = urllib.parse.unquote(url.path).lstrip('/').split('/', 1)
        if len(parts) != 2 or parts[0] != container or '..' in parts[1].split('/'):
            return self.answer(404, 'ContainerNotFound')
        path = os.path.join(store, parts[1])
        os.makedirs(os.path.dirname(path), exist_ok=True)
        if query.get('comp') == ['appendblock']:
            if not os.path.exists(path + '.append'):
                return self.answer(404, 'BlobNotFound')
            with open(path, 'ab') as f:
                f.write(body)
            with open(path + '.blocks', 'a') as f:
                f.write('%d\n' % len(body))
            return self.answer(201)
        kind = self.headers.get('x-ms-blob-type')
        if kind not in ('BlockBlob', 'AppendBlob') or not self.headers.get('x-ms-version'):
            return self.answer(400, 'InvalidHeaderValue')
        with open(path, 'wb') as f:
            f.write(body if kind == 'BlockBlob' else b'')
        if kind == 'AppendBlob':
            open(path + '.append', 'w').close()
        with open(path + '.headers.json', 'w') as f:
            json.dump({k.lower(): v for k, v in self.headers.items()}, f)
        return self.answer(201)

    def log_message(self, fmt, *args):
        sys.stderr.write('blob: ' + (fmt % args) + '\n')


server = http.server.ThreadingHTTPServer(('127.0.0.1', 0), Handler)
context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
context.load_cert_chain(cert, key)
server.socket = context.wrap_socket(server.socket, server_side=True)
with open(port_file + '.tmp', 'w') as f:
    f.write(str(server.server_address[1]))
os.rename(port_file + '.tmp', port_file)
server.serve_forever()
