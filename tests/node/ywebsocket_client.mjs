// The unmodified y-websocket client (from node_modules) against a Tavoli server, driven by a test.
//
//   node ywebsocket_client.mjs <ws://host:port/ws/docs> <document id> <Cookie header> <Origin>
//
// Node has no cookies of its own: the WebSocket given to the provider is the platform's (global
// since Node 22; `--experimental-websocket` on Node 20), made with the session's Cookie and the
// Origin a browser would send. Commands arrive on stdin, one JSON object a line; what happens is
// printed on stdout, one JSON object a line, for the test to wait on:
//   {"insert": "text"}   insert at the end of the shared text      -> {"event": "inserted", "text": …}
//   {"wait": "needle"}   until the text contains needle             -> {"event": "seen", "text": …}
//   {"quit": true}       destroy the provider and exit               -> {"event": "bye"}
// and on its own: {"event": "synced", "text": …} once the first sync is done,
// {"event": "closed", "code": …} whenever the socket closes.
import * as readline from 'node:readline'
import * as Y from 'yjs'
import { WebsocketProvider } from 'y-websocket'

const [serverUrl, room, cookie, origin] = process.argv.slice(2)
if (typeof WebSocket === 'undefined') {
  console.error('this Node has no WebSocket: run it with --experimental-websocket (Node 20) or Node 22+')
  process.exit(2)
}

class SessionWebSocket extends WebSocket {
  constructor (url, protocols) {
    super(url, { protocols, headers: { Cookie: cookie, Origin: origin } })
  }
}

const say = (message) => process.stdout.write(JSON.stringify(message) + '\n')
const doc = new Y.Doc()
const text = doc.getText('markdown')
const provider = new WebsocketProvider(serverUrl, room, doc, {
  WebSocketPolyfill: SessionWebSocket,
  disableBc: true
})
provider.on('sync', (synced) => { if (synced) say({ event: 'synced', text: text.toString() }) })
provider.on('connection-close', (event) => say({ event: 'closed', code: event ? event.code : null }))

const waiting = []
text.observe(() => {
  const now = text.toString()
  for (let i = waiting.length - 1; i >= 0; i--) {
    if (now.includes(waiting[i])) {
      say({ event: 'seen', text: now })
      waiting.splice(i, 1)
    }
  }
})

readline.createInterface({ input: process.stdin }).on('line', (line) => {
  const command = JSON.parse(line)
  if (command.insert !== undefined) {
    text.insert(text.length, command.insert)
    say({ event: 'inserted', text: text.toString() })
  } else if (command.wait !== undefined) {
    if (text.toString().includes(command.wait)) say({ event: 'seen', text: text.toString() })
    else waiting.push(command.wait)
  } else if (command.quit) {
    provider.destroy()
    say({ event: 'bye' })
    process.exit(0)
  }
})
