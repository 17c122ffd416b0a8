'use strict'
// SIGINT/SIGTERM/SIGHUP for the commands that change a database (up, down, reset, verify). The entry
// installs this before it loads anything else and it stays until the process exits, so a signal
// at any moment after Node has started our code becomes a clean cancel (exit 6, lock released,
// report written) or, once the command has finished, changes nothing. Handlers installed only
// around the command's run left two windows where the default action killed the process by the
// signal: while the command was still loading, and between its end and the exit (a pipeline's
// SIGTERM there turned a finished run into "killed", report or no report).
// SIGHUP is the terminal going away (an ssh session dropped while `up` ran from a bastion): its
// default action killed the run mid-statement with no report; now it cancels like SIGTERM, and
// the lines that can no longer reach the terminal are dropped (see godwit.js).
// Every other command keeps Node's default: ^C stops `check` or `status` at once.

const CANCELLABLE = new Set(['up', 'down', 'reset', 'verify'])
const controller = new AbortController()

function install(command) {
  if (!CANCELLABLE.has(command)) return
  const onSignal = (sig) => {
    if (controller.signal.aborted) {
      // a second ^C or a repeated SIGTERM: the cancel is already under way, and leaving now would
      // leave the report unwritten while the server rolls back anyway
      process.stderr.write(`godwit: ${sig} again: already stopping (${controller.signal.reason}); waiting for the rollback to finish\n`)
      return
    }
    controller.abort(sig)
  }
  process.on('SIGINT', onSignal)
  process.on('SIGTERM', onSignal)
  process.on('SIGHUP', onSignal)
}

module.exports = { install, signal: controller.signal }
