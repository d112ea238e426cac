/// How a stream reaches the next operator.
@usableFromInline
enum Partitioning {
    /// Same subtask, same thread (operator chaining).
    case forward
    /// Through bounded channels: by key group (keyed) or round robin.
    case exchange(makeWriter: (_ gates: [AnyObject], _ producer: Int, _ hook: BackpressureHook?) -> Any)
}

@usableFromInline
struct GraphEdge {
    @usableFromInline let from: Int
    @usableFromInline let fromSide: Bool
    @usableFromInline let partitioning: Partitioning
    @inlinable init(from: Int, fromSide: Bool, partitioning: Partitioning) {
        self.from = from; self.fromSide = fromSide; self.partitioning = partitioning
    }
    @usableFromInline var isForward: Bool { if case .forward = partitioning { return true }; return false }
}

/// Everything one subtask's build needs.
@usableFromInline
struct BuildContext {
    @usableFromInline let subtask: Int
    @usableFromInline let parallelism: Int
    @usableFromInline let operatorContext: OperatorContext
    @usableFromInline let restore: OperatorRestore?
    @usableFromInline let hook: BackpressureHook?
    @usableFromInline let uid: String
}

/// A node of the dataflow graph. Its closures are created in specialised generic code (the DSL
/// methods are `@inlinable`), so the stages they build run fully specialised.
@usableFromInline
final class GraphNode {
    @usableFromInline let id: Int
    @usableFromInline let name: String
    @usableFromInline var uid: String
    @usableFromInline var parallelism: Int
    @usableFromInline var inputs: [GraphEdge]
    @usableFromInline var isSource: Bool { makeSourceTask != nil }
    /// Operators: (context, output, side output) → the node's input `StageInput<In>`.
    @usableFromInline var build: ((BuildContext, Any, Any?) throws -> Any)?
    /// Sources: (context, output, dead letters) → the task loop.
    @usableFromInline var makeSourceTask: ((BuildContext, Any, Any?, SourceTaskControl) throws -> () throws -> Void)?
    /// Makes the input gate for this node (nodes fed through an exchange).
    @usableFromInline var makeGate: ((Int, HighLowWatermark, ChannelMetrics) -> AnyObject)?
    /// Runs the task loop of a gate-fed subtask: (gate, input, control) → loop.
    @usableFromInline var makeGateTask: ((AnyObject, Any, GateTaskControl) -> () throws -> Void)?
    /// Fan-out of `[StageInput<Out>]` → `StageInput<Out>`.
    @usableFromInline var fanOut: ([Any]) -> Any
    @usableFromInline var sideFanOut: (([Any]) -> Any)?

    @usableFromInline
    init(id: Int, name: String, parallelism: Int, inputs: [GraphEdge], fanOut: @escaping ([Any]) -> Any) {
        self.id = id; self.name = name; self.uid = "\(id)-\(name)"; self.parallelism = parallelism
        self.inputs = inputs; self.fanOut = fanOut
    }
}

/// Builds a job's dataflow graph. Passed to the closure of ``Job``.
public final class StreamEnvironment: @unchecked Sendable {
    // @unchecked: a graph is built on one thread, then only read.
    @usableFromInline var nodes: [GraphNode] = []
    /// Default parallelism of keyed operators; set by ``Job/run(parallelism:)``.
    public internal(set) var parallelism: Int
    /// Key groups (max parallelism). Keep it fixed for the life of a job's checkpoints.
    public var keyGroups = KeyGroups(maxParallelism: 128)
    /// Records per source poll.
    public var batchSize = 4096
    /// Back-pressure policy of every channel.
    public var channelPolicy = HighLowWatermark.default

    public init(parallelism: Int = 1) {
        precondition(parallelism >= 1, "parallelism must be at least 1")
        self.parallelism = parallelism
    }

    @usableFromInline
    func addNode(name: String, parallelism: Int, inputs: [GraphEdge], fanOut: @escaping ([Any]) -> Any) -> GraphNode {
        let node = GraphNode(id: nodes.count, name: name, parallelism: parallelism, inputs: inputs, fanOut: fanOut)
        nodes.append(node)
        return node
    }

    @usableFromInline
    static func fanOutFunction<T: Sendable>(_: T.Type) -> ([Any]) -> Any {
        { list in StageInput<T>.fanOut(list.map { $0 as! StageInput<T> }) }
    }

    /// Adds a source. Its records have no event time until ``DataStream/assignTimestamps(_:watermark:idleness:)``.
    @inlinable
    public func source<S: Source>(_ source: S, name: String = "source") -> DataStream<S.Reader.Output> {
        let node = addNode(name: name, parallelism: source.parallelism, inputs: [], fanOut: Self.fanOutFunction(S.Reader.Output.self))
        node.sideFanOut = Self.fanOutFunction(DeadLetter<String>.self)
        let batchSize = self.batchSize
        node.makeSourceTask = { ctx, output, dead, control in
            var reader = try source.makeReader(subtask: ctx.subtask)
            if let restore = ctx.restore, let position = restore.operatorState { try reader.restorePosition(position) }
            let task = SourceTask(reader: reader, output: output as! StageInput<S.Reader.Output>,
                                  deadLetters: dead as! StageInput<DeadLetter<String>>?, context: ctx,
                                  control: control, batchSize: batchSize)
            return { try task.run() }
        }
        return DataStream(env: self, node: node.id)
    }

    /// Adds an in-memory collection as a bounded source.
    @inlinable
    public func fromCollection<T: Sendable>(_ values: [T], name: String = "collection") -> DataStream<T> {
        source(CollectionSource(values), name: name)
    }

    /// Union of several streams of the same type (through an exchange, at the job parallelism).
    @inlinable
    public func union<T: Sendable>(_ streams: [DataStream<T>], name: String = "union") -> DataStream<T> {
        let edges = streams.map { GraphEdge(from: $0.node, fromSide: $0.side, partitioning: .exchange(makeWriter: roundRobinWriter(T.self))) }
        let node = addNode(name: name, parallelism: parallelism, inputs: edges, fanOut: Self.fanOutFunction(T.self))
        node.build = { _, output, _ in output }
        node.makeGate = gateFactory(T.self)
        node.makeGateTask = gateTaskFactory(T.self)
        return DataStream(env: self, node: node.id)
    }
}

@inlinable
func gateFactory<T: Sendable>(_: T.Type) -> (Int, HighLowWatermark, ChannelMetrics) -> AnyObject {
    { n, policy, metrics in InputGate<T>(channels: n, policy: policy, metrics: metrics) }
}

@inlinable
func gateTaskFactory<T: Sendable>(_: T.Type) -> (AnyObject, Any, GateTaskControl) -> () throws -> Void {
    { gate, input, control in
        let task = GateTask(gate: gate as! InputGate<T>, input: input as! StageInput<T>, control: control)
        return { try task.run() }
    }
}

@inlinable
func roundRobinWriter<T: Sendable>(_: T.Type) -> ([AnyObject], Int, BackpressureHook?) -> Any {
    { gates, producer, hook in
        ExchangeWriter<T>(gates: gates.map { $0 as! InputGate<T> }, producer: producer, hook: hook, route: nil).input
    }
}

/// A typed stream of records: the handle users chain operators on.
public struct DataStream<Element: Sendable>: Sendable {
    @usableFromInline let env: StreamEnvironment
    @usableFromInline let node: Int
    /// Whether this handle is the node's side output (late data / dead letters).
    @usableFromInline let side: Bool

    @inlinable init(env: StreamEnvironment, node: Int, side: Bool = false) {
        self.env = env; self.node = node; self.side = side
    }

    /// Gives the last operator a stable id, so checkpoints of this job can be restored after the
    /// graph changed (by default the id is the node's position and name).
    @discardableResult
    public func uid(_ uid: String) -> DataStream {
        env.nodes[node].uid = uid
        return self
    }

    /// Adds an operator applied on the same subtask (chained, no exchange).
    @inlinable
    public func transform<Op: StreamOperator>(_ name: String, _ make: @escaping @Sendable () -> Op) -> DataStream<Op.Output>
    where Op.Input == Element {
        let upstream = env.nodes[node]
        let n = env.addNode(name: name, parallelism: upstream.parallelism,
                            inputs: [GraphEdge(from: node, fromSide: side, partitioning: .forward)],
                            fanOut: StreamEnvironment.fanOutFunction(Op.Output.self))
        n.build = operatorBuilder(make)
        if Op.SideOutput.self != Never.self { n.sideFanOut = StreamEnvironment.fanOutFunction(Op.SideOutput.self) }
        return DataStream<Op.Output>(env: env, node: n.id)
    }

    /// The side output of this operator (late records of a window, dead letters of a source or `tryMap`).
    @inlinable
    public func sideOutput<S: Sendable>(_: S.Type = S.self) -> DataStream<S> {
        precondition(env.nodes[node].sideFanOut != nil, "\(env.nodes[node].name) has no side output")
        return DataStream<S>(env: env, node: node, side: true)
    }

    @inlinable public func map<U: Sendable>(_ name: String = "map", _ f: @escaping @Sendable (Element) throws -> U) -> DataStream<U> {
        transform(name) { MapOperator(f) }
    }
    @inlinable public func filter(_ name: String = "filter", _ f: @escaping @Sendable (Element) throws -> Bool) -> DataStream<Element> {
        transform(name) { FilterOperator(f) }
    }
    @inlinable public func flatMap<U: Sendable>(_ name: String = "flatMap", _ f: @escaping @Sendable (Element, (U) -> Void) throws -> Void) -> DataStream<U> {
        transform(name) { FlatMapOperator(f) }
    }
    /// A map whose failures go to the dead-letter side output (``sideOutput(_:)`` of `DeadLetter<Element>`).
    @inlinable public func tryMap<U: Sendable>(_ name: String = "tryMap", _ f: @escaping @Sendable (Element) throws -> U) -> DataStream<U> {
        transform(name) { TryMapOperator(f) }
    }

    /// Assigns event time and watermarks (per source split, combined by minimum).
    @inlinable
    public func assignTimestamps(_ timestamp: @escaping @Sendable (Element) -> EventTime, watermark: WatermarkStrategy,
                                 idleness: Duration? = nil) -> DataStream<Element> {
        let strategy = idleness.map { watermark.withIdleness($0) } ?? watermark
        return transform("timestamps") { TimestampAssigner(extract: timestamp, strategy: strategy) }
    }
    @inlinable
    public func assignTimestamps(_ timestamp: any KeyPath<Element, EventTime> & Sendable, watermark: WatermarkStrategy,
                                 idleness: Duration? = nil) -> DataStream<Element> {
        assignTimestamps({ $0[keyPath: timestamp] }, watermark: watermark, idleness: idleness)
    }

    /// Partitions the stream by key: the next operator runs keyed, by key group, at the job parallelism.
    @inlinable
    public func keyBy<K: StreamKey>(_ key: @escaping @Sendable (Element) -> K) -> KeyedStream<Element, K> {
        KeyedStream(stream: self, key: key)
    }
    @inlinable
    public func keyBy<K: StreamKey>(_ key: any KeyPath<Element, K> & Sendable) -> KeyedStream<Element, K> {
        KeyedStream(stream: self, key: { $0[keyPath: key] })
    }

    /// Union with other streams of the same type.
    @inlinable public func union(_ others: DataStream<Element>...) -> DataStream<Element> {
        env.union([self] + others)
    }

    /// Ends the stream in a sink operator. `parallelism` 1 funnels all subtasks into one sink
    /// (e.g. one output file); nil runs the sink on each upstream subtask.
    @discardableResult @inlinable
    public func sink<Op: StreamOperator>(_ name: String = "sink", parallelism: Int? = nil, _ make: @escaping @Sendable () -> Op) -> DataStream<Op.Output>
    where Op.Input == Element {
        let upstream = env.nodes[node]
        let p = parallelism ?? upstream.parallelism
        if p == upstream.parallelism {
            return transform(name, make)
        }
        let n = env.addNode(name: name, parallelism: p,
                            inputs: [GraphEdge(from: node, fromSide: side, partitioning: .exchange(makeWriter: roundRobinWriter(Element.self)))],
                            fanOut: StreamEnvironment.fanOutFunction(Op.Output.self))
        n.build = operatorBuilder(make)
        n.makeGate = gateFactory(Element.self)
        n.makeGateTask = gateTaskFactory(Element.self)
        return DataStream<Op.Output>(env: env, node: n.id)
    }
}

@inlinable
func operatorBuilder<Op: StreamOperator>(_ make: @escaping @Sendable () -> Op) -> (BuildContext, Any, Any?) throws -> Any {
    { ctx, output, side in
        var op = make()
        if let restore = ctx.restore { try op.restoreState(restore, context: ctx.operatorContext) }
        try op.open(context: ctx.operatorContext)
        let stage = OperatorStage(op: op, uid: ctx.uid, context: ctx.operatorContext,
                                  downstream: output as! StageInput<Op.Output>,
                                  sideDownstream: side.map { $0 as! StageInput<Op.SideOutput> })
        return stage.input
    }
}

/// A stream partitioned by key.
public struct KeyedStream<Element: Sendable, Key: StreamKey>: Sendable {
    @usableFromInline let stream: DataStream<Element>
    @usableFromInline let key: @Sendable (Element) -> Key

    @inlinable init(stream: DataStream<Element>, key: @escaping @Sendable (Element) -> Key) {
        self.stream = stream; self.key = key
    }

    /// Adds a keyed operator behind a keyed exchange (records routed by key group).
    @inlinable
    public func transform<Op: StreamOperator>(_ name: String, parallelism: Int? = nil,
                                              _ make: @escaping @Sendable () -> Op) -> DataStream<Op.Output>
    where Op.Input == Element {
        let env = stream.env
        let key = self.key
        let keyGroups = env.keyGroups
        let edge = GraphEdge(from: stream.node, fromSide: stream.side, partitioning: .exchange(makeWriter: { gates, producer, hook in
            let typed = gates.map { $0 as! InputGate<Element> }
            let p = typed.count
            return ExchangeWriter<Element>(gates: typed, producer: producer, hook: hook, route: { value in
                keyGroups.subtask(ofKeyGroup: keyGroups.keyGroup(of: key(value)), parallelism: p)
            }).input
        }))
        let n = env.addNode(name: name, parallelism: parallelism ?? env.parallelism, inputs: [edge],
                            fanOut: StreamEnvironment.fanOutFunction(Op.Output.self))
        n.build = operatorBuilder(make)
        n.makeGate = gateFactory(Element.self)
        n.makeGateTask = gateTaskFactory(Element.self)
        if Op.SideOutput.self != Never.self { n.sideFanOut = StreamEnvironment.fanOutFunction(Op.SideOutput.self) }
        return DataStream<Op.Output>(env: env, node: n.id)
    }

    /// A keyed function with state and timers.
    @inlinable
    public func process<F: KeyedProcessFunction>(_ function: F, name: String = "process") -> DataStream<F.Output>
    where F.Input == Element, F.Key == Key {
        let key = self.key
        return transform(name) { KeyedProcessOperator(function, key: key) }
    }

    /// Windows over this keyed stream.
    @inlinable
    public func window(_ assigner: WindowAssigner, allowedLateness: Duration = .zero) -> WindowedStream<Element, Key> {
        WindowedStream(keyed: self, assigner: assigner, allowedLateness: allowedLateness, lateOutput: nil)
    }
}

/// A keyed, windowed stream waiting for its window function.
public struct WindowedStream<Element: Sendable, Key: StreamKey>: Sendable {
    @usableFromInline let keyed: KeyedStream<Element, Key>
    @usableFromInline let assigner: WindowAssigner
    @usableFromInline let allowedLateness: Duration
    @usableFromInline var lateOutput: (@Sendable (DataStream<Element>) -> Void)?

    @inlinable init(keyed: KeyedStream<Element, Key>, assigner: WindowAssigner, allowedLateness: Duration,
                    lateOutput: (@Sendable (DataStream<Element>) -> Void)?) {
        self.keyed = keyed; self.assigner = assigner; self.allowedLateness = allowedLateness; self.lateOutput = lateOutput
    }

    /// Sends records that arrive after their windows expired to `handle` (e.g. a sink) instead of
    /// only counting them.
    @inlinable
    public func sideOutputLateData(_ handle: @escaping @Sendable (DataStream<Element>) -> Void) -> WindowedStream {
        var copy = self; copy.lateOutput = handle; return copy
    }

    /// Incremental aggregation with one aggregate function.
    @inlinable
    public func aggregate<A: AggregateFunction>(_ function: A, name: String = "window") -> DataStream<WindowResult<Key, A.Result>>
    where A.Input == Element {
        let assigner = self.assigner, lateness = allowedLateness, key = keyed.key
        let result: DataStream<WindowResult<Key, A.Result>>
        switch assigner {
        case .tumbling, .sliding:
            result = keyed.transform(name) { SlicingWindowOperator(assigner: assigner, allowedLateness: lateness, aggregate: function, key: key) }
        case let .session(gap):
            result = keyed.transform(name) { SessionWindowOperator(gap: .milliseconds(gap), allowedLateness: lateness, aggregate: function, key: key) }
        case let .count(n):
            result = keyed.transform(name) { CountWindowOperator(count: n, aggregate: function, key: key) }
        }
        if let lateOutput, result.env.nodes[result.node].sideFanOut != nil {
            lateOutput(result.sideOutput(Element.self))
        }
        return result
    }

    /// One aggregate with leading-dot syntax: `.aggregate(.count())`; the result's `value` is its result.
    @inlinable
    public func aggregate<A>(_ a: Aggregation<Element, A>, name: String = "window") -> DataStream<WindowResult<Key, A.Result>> {
        aggregate(a.function, name: name)
    }

    /// 2 aggregates computed in one pass; `as` names their results (called once per fired window):
    /// `.aggregate(.count(), .sum(\.amount)) { (count: $0, total: $1) }` gives `r.count`, `r.total`.
    @inlinable
    public func aggregate<A, B, R: Sendable>(_ a: Aggregation<Element, A>, _ b: Aggregation<Element, B>, name: String = "window",
                                  as result: @escaping @Sendable (A.Result, B.Result) -> R) -> DataStream<WindowResult<Key, R>> {
        aggregate(MappedAggregate(Aggregate2(a.function, b.function)) { v in result(v.0, v.1) }, name: name)
    }

    /// 3 aggregates computed in one pass; `as` names their results (called once per fired window):
    /// `.aggregate(.count(), .sum(\.amount)) { (count: $0, total: $1) }` gives `r.count`, `r.total`.
    @inlinable
    public func aggregate<A, B, C, R: Sendable>(_ a: Aggregation<Element, A>, _ b: Aggregation<Element, B>, _ c: Aggregation<Element, C>, name: String = "window",
                                  as result: @escaping @Sendable (A.Result, B.Result, C.Result) -> R) -> DataStream<WindowResult<Key, R>> {
        aggregate(MappedAggregate(Aggregate3(a.function, b.function, c.function)) { v in result(v.0, v.1, v.2) }, name: name)
    }

    /// 4 aggregates computed in one pass; `as` names their results (called once per fired window):
    /// `.aggregate(.count(), .sum(\.amount)) { (count: $0, total: $1) }` gives `r.count`, `r.total`.
    @inlinable
    public func aggregate<A, B, C, D, R: Sendable>(_ a: Aggregation<Element, A>, _ b: Aggregation<Element, B>, _ c: Aggregation<Element, C>, _ d: Aggregation<Element, D>, name: String = "window",
                                  as result: @escaping @Sendable (A.Result, B.Result, C.Result, D.Result) -> R) -> DataStream<WindowResult<Key, R>> {
        aggregate(MappedAggregate(Aggregate4(a.function, b.function, c.function, d.function)) { v in result(v.0, v.1, v.2, v.3) }, name: name)
    }

    /// 5 aggregates computed in one pass; `as` names their results (called once per fired window):
    /// `.aggregate(.count(), .sum(\.amount)) { (count: $0, total: $1) }` gives `r.count`, `r.total`.
    @inlinable
    public func aggregate<A, B, C, D, E, R: Sendable>(_ a: Aggregation<Element, A>, _ b: Aggregation<Element, B>, _ c: Aggregation<Element, C>, _ d: Aggregation<Element, D>, _ e: Aggregation<Element, E>, name: String = "window",
                                  as result: @escaping @Sendable (A.Result, B.Result, C.Result, D.Result, E.Result) -> R) -> DataStream<WindowResult<Key, R>> {
        aggregate(MappedAggregate(Aggregate5(a.function, b.function, c.function, d.function, e.function)) { v in result(v.0, v.1, v.2, v.3, v.4) }, name: name)
    }

    /// 6 aggregates computed in one pass; `as` names their results (called once per fired window):
    /// `.aggregate(.count(), .sum(\.amount)) { (count: $0, total: $1) }` gives `r.count`, `r.total`.
    @inlinable
    public func aggregate<A, B, C, D, E, F, R: Sendable>(_ a: Aggregation<Element, A>, _ b: Aggregation<Element, B>, _ c: Aggregation<Element, C>, _ d: Aggregation<Element, D>, _ e: Aggregation<Element, E>, _ f: Aggregation<Element, F>, name: String = "window",
                                  as result: @escaping @Sendable (A.Result, B.Result, C.Result, D.Result, E.Result, F.Result) -> R) -> DataStream<WindowResult<Key, R>> {
        aggregate(MappedAggregate(Aggregate6(a.function, b.function, c.function, d.function, e.function, f.function)) { v in result(v.0, v.1, v.2, v.3, v.4, v.5) }, name: name)
    }

    /// Full-window processing: `function` gets every record of the window (buffered per pane).
    @inlinable
    public func process<Out: Sendable>(name: String = "window-process",
                                       _ function: @escaping @Sendable (Key, TimeWindow, [Element]) -> Out) -> DataStream<Out>
    where Element: StateCodable {
        aggregate(CollectAggregate<Element>(), name: name).map("\(name)-fn") { r in
            function(r.key, TimeWindow(start: r.windowStart, end: r.windowEnd), r.value)
        }
    }
}
