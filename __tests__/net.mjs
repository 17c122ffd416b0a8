// Network misbehaviour on loopback, for the tests that try to make godwit wait forever: a server
// that accepts connections and never answers, and a proxy in front of a real server that can go
// silent (keeps every connection open, forwards nothing) at a moment the test chooses.
import net from 'node:net'

/** A port on 127.0.0.1 that nothing listens on (it was free a moment ago). */
export async function unusedPort() {
  const s = net.createServer()
  await new Promise((resolve) => s.listen(0, '127.0.0.1', resolve))
  const { port } = s.address()
  await new Promise((resolve) => s.close(resolve))
  return port
}

/** A TCP server on 127.0.0.1 that accepts and never writes a byte. */
export async function silentServer(t) {
  const sockets = new Set()
  const server = net.createServer((s) => {
    sockets.add(s)
    s.on('error', () => {})
    s.on('close', () => sockets.delete(s))
  })
  await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve))
  t.after(() => {
    for (const s of sockets) s.destroy()
    server.close()
  })
  return server.address().port
}

/**
 * A TCP proxy on 127.0.0.1 to `target` (a postgres:// URL's host and port). `silence()` stops
 * forwarding in both directions on every connection, old and new, without closing any.
 * `flights()`: for each connection so far, what the client sent between the server's answers
 * (each flight's bytes, consecutive chunks joined): how many round trips it took. With
 * `silentOnQuery` (and no TLS) it goes silent at the first query: a server, or a pooler in
 * front of it, that completes start-up and then runs nothing.
 */
export async function proxy(t, targetUrl, { silentOnQuery = false } = {}) {
  const target = new URL(targetUrl)
  let silent = false
  const sockets = new Set()
  const conversations = []
  const server = net.createServer((client) => {
    const upstream = net.connect(Number(target.port || 5432), target.hostname)
    for (const s of [client, upstream]) {
      sockets.add(s)
      s.on('error', () => {})
      s.on('close', () => sockets.delete(s))
    }
    const flights = []
    let answered = true
    // with silentOnQuery, each connection's start-up and authentication pass and its first query
    // is never answered
    let muted = false
    const quiet = () => silent || muted
    conversations.push(flights)
    client.on('data', (d) => {
      if (answered) flights.push(Buffer.alloc(0))
      flights[flights.length - 1] = Buffer.concat([flights[flights.length - 1], d])
      answered = false
      if (silentOnQuery && d[0] === 0x51) muted = true
      if (!quiet()) upstream.write(d)
    })
    upstream.on('data', (d) => {
      answered = true
      if (!quiet()) client.write(d)
    })
    client.on('end', () => quiet() || upstream.end())
    upstream.on('end', () => quiet() || client.end())
  })
  await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve))
  t.after(() => {
    for (const s of sockets) s.destroy()
    server.close()
  })
  const via = new URL(targetUrl)
  via.hostname = '127.0.0.1'
  via.port = String(server.address().port)
  return { url: via.toString(), silence: () => (silent = true), flights: () => conversations }
}
