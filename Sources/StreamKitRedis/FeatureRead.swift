/// The consistent batch read: every entity's latest pointer and the hash it names, in one
/// `EVALSHA` (one round trip, one atomic step on the server).
package enum FeatureRead {
    /// KEYS[i] the entity's key prefix `namespace:view:entity`.
    /// ARGV[1] a version, or "" for each entity's latest pointer; ARGV[2…] the hash fields to read
    /// (`HMGET`), none for the whole hash (`HGETALL`).
    /// Returns, per entity, nil (no pointer) or `{version, fields}`.
    package static let script = RedisScript("""
        local out = {}
        local fixed = ARGV[1]
        local fields = #ARGV > 1
        for i = 1, #KEYS do
          local v = fixed
          if v == '' then v = redis.call('GET', KEYS[i] .. ':latest') end
          if v then
            local key = KEYS[i] .. ':v' .. v
            if fields then
              out[i] = {v, redis.call('HMGET', key, unpack(ARGV, 2))}
            else
              out[i] = {v, redis.call('HGETALL', key)}
            end
          else
            out[i] = false
          end
        end
        return out
        """)
}
