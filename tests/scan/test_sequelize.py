"""Sequelize forms that need a whole project to show: the connection's `define` defaults,
join models made from `through: 'Name'`, rows made with `new`, `this` in instance methods,
includes written apart from their query, and a model chosen by the caller."""

from __future__ import annotations

from pathlib import Path

from migverify.scan import scan_paths

CONNECTION = """\
const { Sequelize, DataTypes } = require('sequelize')

const params = { logging: false, define: { freezeTableName: true } }
const sequelize = new Sequelize('postgres://localhost/app', params)

const Article = sequelize.define('Article', { title: DataTypes.STRING })
const Tag = sequelize.define('Tag', { name: DataTypes.STRING })
Article.belongsToMany(Tag, { through: 'ArticleTag', as: 'tags' })

Article.prototype.toJSONFor = async function () {
  const tags = await this.getTags()
  return { title: this.title, tags }
}

module.exports = sequelize
"""
USES = """\
const sequelize = require('./db')

async function create(body) {
  const article = new (sequelize.models.Article)(body)
  await article.save()
  await sequelize.models.ArticleTag.create({ articleId: article.id, tagId: 1 })
  const include = []
  include.push({ model: sequelize.models.Tag, as: 'tags' })
  return sequelize.models.Article.findAll({ include })
}

async function prune(Model) {
  return Model.findAll({ limit: 10 })
}

module.exports = { create, prune }
"""


def _scan(tmp_path: Path):
    (tmp_path / "db.js").write_text(CONNECTION)
    (tmp_path / "articles.js").write_text(USES)
    tables = ["Article", "Tag", "ArticleTag", "Articles", "Tags"]
    return scan_paths([tmp_path], tables, root=tmp_path, jobs=1)


def test_the_connections_define_options_name_every_models_table(tmp_path):
    result = _scan(tmp_path)
    declared = {(r.path, r.line, r.table) for r in result.references if r.operation == "model"}
    # freezeTableName: true for the connection: Article, not Articles
    assert ("db.js", 6, "Article") in declared
    assert ("db.js", 7, "Tag") in declared
    assert ("db.js", 8, "ArticleTag") in declared  # the join model `through` makes
    assert not {t for _, _, t in declared} & {"Articles", "Tags"}


def test_rows_made_with_new_this_in_methods_and_detached_includes(tmp_path):
    refs = {(r.path, r.line, r.table, r.operation) for r in _scan(tmp_path).references}
    assert ("articles.js", 5, "Article", "insert") in refs  # new (…Article)(body).save()
    assert ("articles.js", 6, "ArticleTag", "insert") in refs
    assert ("articles.js", 8, "Tag", "select") in refs  # the include pushed apart
    assert ("articles.js", 8, "ArticleTag", "select") in refs  # through the `tags` association
    assert ("db.js", 11, "Tag", "select") in refs  # this.getTags() in an instance method
    assert ("db.js", 11, "ArticleTag", "select") in refs


def test_a_model_the_caller_chooses_is_a_dynamic_reference(tmp_path):
    dynamic = _scan(tmp_path).dynamic
    assert [(d.path, d.line, d.expression) for d in dynamic] == [("articles.js", 13, "Model")]
