# Vagrant's configuration language, recorded: each call on `config` (and on what it
# returns or yields) becomes {"call": "vm.network", "args": [...], "options": {...}}.
require "json"

class Recorder
  def initialize(calls, path)
    @calls, @path = calls, path
  end

  def method_missing(name, *args, **options, &block)
    path = @path + [name.to_s]
    @calls << { "call" => path.join("."), "args" => args, "options" => options }
    inner = Recorder.new(@calls, path)
    block&.call(inner)
    inner
  end

  def respond_to_missing?(*) = true
end

module Vagrant
  def self.configure(version)
    calls = []
    yield Recorder.new(calls, [])
    puts JSON.generate({ "version" => version, "calls" => calls })
  end
end

load ARGV.fetch(0)
