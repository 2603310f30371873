/// The query layer over faces: filter, sort, page and count, all as SQL over stored signatures.
import Foundation
import GRDB
import FacetCore

/// A stored numeric column a user can filter and sort faces by.
public enum FaceField: String, CaseIterable, Sendable {
    case id, mediaId = "media_id", frameIndex = "frame_index", faceIndex = "face_index", pts, score
    case blur, motionBlur = "motion_blur", yaw, pitch, roll, brightness, hue, faceSize = "face_size"
    case landmarkScore = "landmark_score"

    /// Parses `blur`, `motion_blur`, `motion-blur` or `motionBlur`; `sharpness` names `blur`, which is
    /// a sharpness score (higher is sharper).
    public init?(name: String) {
        let snake = name.replacingOccurrences(of: "-", with: "_").lowercased()
        if snake == "sharpness" { self = .blur; return }
        if let f = FaceField(rawValue: snake) { self = f; return }
        if let f = FaceField.allCases.first(where: { "\($0)" == name }) { self = f; return }
        return nil
    }
}

/// Which statuses a listing shows: `kept`, `rejected` or `all`, parsed once for the CLI and the gallery.
public enum StatusFilter: String, CaseIterable, Sendable {
    case kept, rejected, all
    /// The status a query filters on (nil: every status).
    public var status: FaceStatus? { self == .all ? nil : FaceStatus(rawValue: rawValue) }
    /// The filter that shows faces of `status` (nil: all).
    public init(_ status: FaceStatus?) { self = status.map { StatusFilter(rawValue: $0.rawValue)! } ?? .all }
}

/// `blur` ascending or `-blur` descending.
public struct FaceSort: Sendable, Equatable {
    /// The signature to order by.
    public var field: FaceField
    /// Largest first (`-FIELD`) instead of smallest first.
    public var descending: Bool
    /// An order by `field`, smallest first unless `descending`.
    public init(_ field: FaceField, descending: Bool = false) { self.field = field; self.descending = descending }

    /// Parses `FIELD` or `-FIELD`; nil for an unknown field.
    public init?(parsing text: String) {
        let desc = text.hasPrefix("-")
        guard let f = FaceField(name: desc ? String(text.dropFirst()) : text) else { return nil }
        self.init(f, descending: desc)
    }
}

/// Which faces, in which order. Every part is optional; the default is every face by id.
public struct FaceQuery: Sendable {
    /// Only faces of this role; nil means both.
    public var role: Role?
    /// nil means every status.
    public var status: FaceStatus?
    /// Only faces carrying this tag.
    public var tag: String?
    /// Only faces of this media.
    public var mediaId: Int64?
    /// Only these faces (by id).
    public var ids: [Int64]?
    /// Only faces of this person (`facet people`).
    public var person: Int64?
    /// Only faces that are not this person's (faces without a person included).
    public var notPerson: Int64?
    /// Only faces with (true) or without (false) a person.
    public var hasPerson: Bool?
    /// Only faces with (true) or without (false) hand-drawn mask polygons (`facet mask`, the gallery's editor).
    public var labelled: Bool?
    /// Inclusive numeric bounds on stored signatures.
    public var ranges: [(field: FaceField, min: Double?, max: Double?)] = []
    /// A user's SQL expression over the `face` table's columns (and `tags`), evaluated read-only.
    public var whereSQL: String?
    /// The order, first key first; ties end in face id order.
    public var sort: [FaceSort] = []
    /// At most this many faces (nil: all).
    public var limit: Int?
    /// Faces to pass over before the first one returned.
    public var offset: Int = 0

    /// A query with the common parts; the others keep their defaults (set them afterwards).
    public init(role: Role? = nil, status: FaceStatus? = nil, tag: String? = nil, whereSQL: String? = nil,
                sort: [FaceSort] = [], limit: Int? = nil, offset: Int = 0) {
        self.role = role; self.status = status; self.tag = tag; self.whereSQL = whereSQL
        self.sort = sort; self.limit = limit; self.offset = offset
    }

    /// The WHERE clause and its arguments. The user's expression is wrapped in parentheses and
    /// only ever runs in a read-only transaction (see `Project.checkedStatement`).
    func whereClause() -> (sql: String, arguments: StatementArguments) {
        var parts: [String] = []
        var args: StatementArguments = []
        if let r = role { parts.append("face.role = ?"); args += [r.rawValue] }
        if let s = status { parts.append("face.status = ?"); args += [s.rawValue] }
        if let m = mediaId { parts.append("face.media_id = ?"); args += [m] }
        if let p = person { parts.append("face.person_id = ?"); args += [p] }
        if let p = notPerson { parts.append("face.person_id IS NOT ?"); args += [p] }
        if let h = hasPerson { parts.append(h ? "face.person_id IS NOT NULL" : "face.person_id IS NULL") }
        if let t = tag {
            parts.append("EXISTS (SELECT 1 FROM face_tag ft WHERE ft.face_id = face.id AND ft.tag = ?)")
            args += [t]
        }
        if let l = labelled {
            parts.append((l ? "" : "NOT ") + "EXISTS (SELECT 1 FROM mask_polygon mp WHERE mp.face_id = face.id)")
        }
        if let ids {
            parts.append(ids.isEmpty ? "0" : "face.id IN (\(ids.map(String.init).joined(separator: ",")))")
        }
        for r in ranges {
            if let lo = r.min { parts.append("face.\(r.field.rawValue) >= ?"); args += [lo] }
            if let hi = r.max { parts.append("face.\(r.field.rawValue) <= ?"); args += [hi] }
        }
        if let w = whereSQL, !w.trimmingCharacters(in: .whitespaces).isEmpty { parts.append("(\(w)\n)") }
        return (parts.isEmpty ? "1" : parts.joined(separator: " AND "), args)
    }

    /// The sort keys, then the id, in the direction of the first key: `-FIELD` is exactly the
    /// reverse of `FIELD`, and a (role[, status], FIELD) index (which holds the id last, ascending)
    /// gives the whole order in one walk, forwards or backwards, with no sort step.
    func orderClause() -> String {
        let tie = sort.first?.descending == true ? "DESC" : "ASC"
        let keys = sort.map { "face.\($0.field.rawValue) \($0.descending ? "DESC" : "ASC")" } + ["face.id \(tie)"]
        return keys.joined(separator: ", ")
    }
}

/// Columns a user's expression can name besides the face table's: `tags` (comma-separated),
/// `sharpness` (the `blur` column under the name of what it measures), and `person` (the person's
/// number, as `person_id`) and `person_name`.
let faceSelectSource = """
    (SELECT face.*, face.blur AS sharpness, (SELECT group_concat(tag, ',') FROM face_tag \
    WHERE face_tag.face_id = face.id) AS tags,
        face.person_id AS person, (SELECT name FROM person WHERE person.id = face.person_id) AS person_name \
    FROM face) AS face
    """

/// `faceSelectSource` for a file from before schema 3 (opened read-only, so not upgraded): no persons.
let faceSelectSourceWithoutPersons = """
    (SELECT face.*, (SELECT group_concat(tag, ',') FROM face_tag WHERE face_tag.face_id = face.id) AS tags \
    FROM face) AS face
    """

extension Project {
    /// Faces matching `query`, in its order. O(log n + k) with an index on the sort field.
    public func faces(matching query: FaceQuery) throws -> [FaceRecord] {
        let (w, args) = query.whereClause()
        var sql = "SELECT face.* FROM \(try source(query)) WHERE \(w) ORDER BY \(query.orderClause())"
        if let l = query.limit {
            sql += " LIMIT \(max(0, l)) OFFSET \(max(0, query.offset))"
        } else if query.offset > 0 {
            sql += " LIMIT -1 OFFSET \(query.offset)"
        }
        return try checkedRead(sql: sql, arguments: args, userExpression: query.whereSQL) { db, stmt in
            try FaceRecord.fetchAll(stmt)
        }
    }

    /// The ids of faces matching `query`, in its order.
    public func faceIDs(matching query: FaceQuery) throws -> [Int64] {
        let (w, args) = query.whereClause()
        var sql = "SELECT face.id FROM \(try source(query)) WHERE \(w) ORDER BY \(query.orderClause())"
        if let l = query.limit { sql += " LIMIT \(max(0, l)) OFFSET \(max(0, query.offset))" }
        return try checkedRead(sql: sql, arguments: args, userExpression: query.whereSQL) {
            _, stmt in try Int64.fetchAll(stmt)
        }
    }

    /// How many faces match `query` (limit and offset ignored).
    public func countFaces(matching query: FaceQuery) throws -> Int {
        let (w, args) = query.whereClause()
        let sql = "SELECT count(*) FROM \(try source(query)) WHERE \(w)"
        return try checkedRead(sql: sql, arguments: args, userExpression: query.whereSQL) {
            _, stmt in try Int.fetchOne(stmt) ?? 0
        }
    }

    /// What a query selects from: the face table, or with a user's expression the face table with
    /// the columns it may name.
    func source(_ query: FaceQuery) throws -> String {
        guard query.whereSQL != nil else { return "face" }
        return try read { try self.hasIdentityTables($0) } ? faceSelectSource : faceSelectSourceWithoutPersons
    }

    /// Runs `sql` in a read-only transaction after checking that it is one statement that reads.
    /// A user's expression that tries to write, or is not valid SQL, is a clear error, never a change.
    func checkedRead<T>(sql: String, arguments: StatementArguments, userExpression: String?,
                        _ body: @escaping (Database, Statement) throws -> T) throws -> T {
        do {
            return try reader.read { db in
                let stmt = try db.makeStatement(sql: sql)
                guard stmt.isReadonly else {
                    throw FacetError.setting("where", "\"\(userExpression ?? sql)\": the expression must only read")
                }
                try stmt.setArguments(arguments)
                return try body(db, stmt)
            }
        } catch let e as FacetError {
            throw e
        } catch let e as DatabaseError where userExpression != nil {
            throw FacetError.setting("where", "\"\(userExpression!)\": \(Self.expressionProblem(e, userExpression!))")
        } catch {
            throw FacetError.file(path, "query failed: \(Project.describe(error))", kind: Project.kind(of: error))
        }
    }

    /// SQLite's complaint about a user's expression, in the user's terms: the expression is wrapped in
    /// parentheses before SQLite sees it, so "near ")"" at its end means it stopped early.
    static func expressionProblem(_ e: DatabaseError, _ expression: String) -> String {
        let message = e.message ?? "invalid SQL expression"
        if message.hasPrefix("Multiple statements") { return "must be one SQL expression, not statements" }
        if message.contains("near \")\"") && !expression.contains(")") {
            return "the expression is incomplete (it ends before its last operand or value)"
        }
        if message.contains("incomplete input") {
            return "the expression is incomplete (an opening parenthesis or quote is not closed?)"
        }
        return message
    }
}
