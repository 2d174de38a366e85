"""Test code of the Kavita plugin, not shipped in its wheel: a stand-in Kavita 0.8.3 server (:mod:`.server`),
its file-name parser (:mod:`.parser`), its data and write rules (:mod:`.model`), the SignalR hub over a
WebSocket (:mod:`.hub`) and the check of every request against Kavita's OpenAPI description (:mod:`.openapi`)."""
