"""The operator console (/console): server-rendered pages plus a little JavaScript that calls
the JSON API with the moderator's token. docs/console.md says why it is built this way."""
