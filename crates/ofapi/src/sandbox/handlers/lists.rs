//! `user-list-collections`: the account's user lists and their members.

use serde_json::{Value, json};

use super::Call;
use super::common::{
    account, account_index, body_str, fan_json, limit_arg, number_arg, page, paged, string_list,
};
use crate::sandbox::data::UserList;
use crate::sandbox::{Failure, Outcome, State};

fn user_list_json(list: &UserList) -> Value {
    let custom = list.kind == "custom";
    json!({
        "id": list.id,
        "type": list.kind,
        "name": list.name,
        "usersCount": list.user_ids.len(),
        "postsCount": 0,
        "canUpdate": custom,
        "canDelete": custom,
        "canManageUsers": custom,
        "canAddUsers": custom,
        "canPinnedToFeed": true,
        "canPinnedToChat": true,
        "isPinnedToFeed": false,
        "isPinnedToChat": false,
        "order": "recent",
        "direction": "desc",
        "users": [],
        "sortList": [],
    })
}

pub(super) fn list_user_lists(state: &mut State, call: &Call) -> Result<Outcome, Failure> {
    let account = account(state, call)?;
    let items: Vec<Value> = account.user_lists.iter().map(user_list_json).collect();
    let limit = limit_arg(call, 100, 100)?;
    let offset = number_arg(call, "offset", 0, usize::MAX)?;
    Ok(Outcome::ok(Value::Array(
        items.into_iter().skip(offset).take(limit).collect(),
    )))
}

pub(super) fn create_user_list(state: &mut State, call: &Call) -> Result<Outcome, Failure> {
    let name = body_str(call, "name").unwrap_or("").trim().to_owned();
    if name.is_empty() {
        return Err(Failure::invalid("name", "The name field is required."));
    }
    let index = account_index(state, call)?;
    if state.data.accounts[index]
        .user_lists
        .iter()
        .any(|l| l.name == name)
    {
        return Err(Failure::onlyfans("List with this name already exists"));
    }
    let id = 1_200_000 + state.data.next_id();
    let list = UserList {
        id: id.to_string(),
        name,
        kind: "custom".into(),
        user_ids: Vec::new(),
    };
    let mut answer = user_list_json(&list);
    answer["id"] = json!(id);
    state.data.accounts[index].user_lists.push(list);
    Ok(Outcome::ok(answer))
}

fn find_user_list(state: &State, call: &Call) -> Result<(usize, usize), Failure> {
    let id = call.params.get("user_list_id").cloned().unwrap_or_default();
    let index = account_index(state, call)?;
    state.data.accounts[index]
        .user_lists
        .iter()
        .position(|l| l.id == id)
        .map(|position| (index, position))
        .ok_or_else(|| Failure::not_found("User list"))
}

pub(super) fn add_users_to_list(state: &mut State, call: &Call) -> Result<Outcome, Failure> {
    let ids = string_list(call, "ids")?;
    if ids.is_empty() {
        return Err(Failure::invalid("ids", "The ids field is required."));
    }
    let skip_invalid = call
        .body
        .get("skip_invalid")
        .and_then(Value::as_bool)
        .unwrap_or(false);
    let (index, position) = find_user_list(state, call)?;
    let account = &mut state.data.accounts[index];
    if account.user_lists[position].kind != "custom" {
        return Err(Failure::onlyfans("Users cannot be added to this list"));
    }
    let mut added = Vec::new();
    let mut failed = serde_json::Map::new();
    for id in &ids {
        match id
            .parse::<i64>()
            .ok()
            .filter(|fan_id| account.fans.iter().any(|f| f.id == *fan_id))
        {
            Some(fan_id) => added.push(fan_id),
            None if skip_invalid => {
                failed.insert(id.clone(), json!("User not found"));
            }
            None => return Err(Failure::onlyfans(&format!("User {id} not found"))),
        }
    }
    let list = &mut account.user_lists[position];
    for fan_id in &added {
        if !list.user_ids.contains(fan_id) {
            list.user_ids.push(*fan_id);
        }
    }
    let data = if skip_invalid {
        json!({"added": added, "failed": failed})
    } else {
        json!({ list.id.clone(): added })
    };
    Ok(Outcome::ok(data))
}

pub(super) fn list_user_list_users(state: &mut State, call: &Call) -> Result<Outcome, Failure> {
    let (index, position) = find_user_list(state, call)?;
    let now = state.data.now;
    let account = &state.data.accounts[index];
    let items: Vec<Value> = account.user_lists[position]
        .user_ids
        .iter()
        .filter_map(|id| account.fans.iter().find(|f| f.id == *id))
        .map(|f| fan_json(account, f, now))
        .collect();
    let page = page(state, call, items, 10, 100)?;
    let next_offset = page.has_more.then_some(page.offset + page.items.len());
    Ok(paged(
        json!({"list": page.items, "hasMore": page.has_more, "nextOffset": next_offset}),
        page.next_page,
    ))
}
