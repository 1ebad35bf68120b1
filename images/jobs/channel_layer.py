"""The channel layer: channels-redis's pub/sub layer, decoding each message
once per process.

The pub/sub layer hands one published message to every consumer in the process
that joined its group, as the same bytes, and each consumer's receive decoded
them again: a sixth of a web process's time with 500 viewers of one build
(bench 10). Job events now reach a process once (`fanout`); an engine's image
events still go to every open image list and page, which share the decoded
message instead and only read it.
"""

from channels_redis.pubsub import RedisPubSubChannelLayer


class SharedDecodeChannelLayer(RedisPubSubChannelLayer):
    _last = (None, None)

    def deserialize(self, message):
        raw, decoded = self._last
        if raw is message:
            return decoded
        decoded = super().deserialize(message)
        self._last = (message, decoded)
        return decoded
